//! Trees: a directory's tree blob decoded, a file's content ids (resolving content lists),
//! and the node at a path below a tree.

use super::Repository;
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::tree::{ContentList, Node, Tree};
use crate::format::BlobType;
use crate::id::{BlobId, TreeId};

impl Repository {
    pub fn load_tree(&self, id: &TreeId) -> Result<Tree> {
        Tree::decode(&self.read_blob(BlobType::Tree, &id.as_blob())?).ctx_object(format!("tree {id}"))
    }

    /// A file's content ids, resolving indirect content lists.
    pub fn file_content(&self, node: &Node) -> Result<Vec<BlobId>> {
        if node.content_lists.is_empty() {
            return Ok(node.content.clone());
        }
        let mut out = Vec::new();
        for id in &node.content_lists {
            out.extend(
                ContentList::decode(&self.read_blob(BlobType::Tree, id)?)
                    .ctx_object(format!("content list {id}"))?
                    .content,
            );
        }
        Ok(out)
    }

    /// The node at `path` (absolute, `/`-separated) below the tree `root`; `None` for `/`.
    pub fn find_path(&self, root: &TreeId, path: &str) -> Result<Option<Node>> {
        let mut tree_id = *root;
        let mut found: Option<Node> = None;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if let Some(n) = &found {
                tree_id = n.subtree.ok_or_else(|| {
                    Error::new(Kind::NotFound, format!("{path}: {} is not a directory", n.name_lossy()))
                })?;
            }
            let tree = self.load_tree(&tree_id)?;
            let node = tree
                .nodes
                .into_iter()
                .find(|n| n.name.as_slice() == comp.as_bytes())
                .ok_or_else(|| Error::new(Kind::NotFound, format!("{path} is not in the snapshot")))?;
            found = Some(node);
        }
        Ok(found)
    }
}
