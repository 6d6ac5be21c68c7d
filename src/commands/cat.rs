//! `arca cat config|index ID|pack ID|blob ID|snapshot ID|tree SNAP[:PATH]|key ID|lock ID`.

use serde_json::{json, Value};

use super::{select, Filter};
use crate::error::{Error, Kind, Result};
use crate::format::key::KeyFile;
use crate::format::BlobType;
use crate::id::{BlobId, ObjectId, PackId, TreeId};
use crate::repo::{ObjectKind, Repository};

pub enum CatOutput {
    Json(Value),
    Bytes(Vec<u8>),
}

fn object_id(repo: &Repository, kind: ObjectKind, prefix: &str) -> Result<ObjectId> {
    if let Some(id) = ObjectId::from_hex(prefix) {
        return Ok(id);
    }
    let m: Vec<_> = repo.list(kind)?.into_iter().filter(|i| i.to_hex().starts_with(prefix)).collect();
    match m.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::new(Kind::NotFound, format!("no {kind}/ object {prefix:?}"))),
        _ => Err(Error::usage(format!("{kind}/ prefix {prefix:?} is ambiguous"))),
    }
}

fn entries_json(blobs: &[crate::format::pack::PackEntry]) -> Value {
    Value::Array(
        blobs
            .iter()
            .map(|b| {
                let mut v = json!({"id": b.id.to_hex(), "type": b.blob_type, "offset": b.offset, "length": b.length, "uncompressed_length": b.raw_length});
                if let Some(g) = b.group_offset {
                    v["group_offset"] = json!(g);
                }
                v
            })
            .collect(),
    )
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(format!("JSON: {e}")))
}

/// The config's fields that are key material: the chunker's gear-table key (which lets anyone
/// holding it fingerprint files by their chunk boundaries) and the blob and tree id keys
/// (which let anyone holding them test whether a known file is stored).
const CONFIG_SECRETS: [&str; 3] = ["chunker_key", "blob_id_key", "tree_id_key"];

/// The config as JSON, its key material replaced by `"hidden"` unless `show_secrets`.
fn config_json(repo: &Repository, show_secrets: bool) -> Result<Value> {
    let mut v = to_json(repo.config())?;
    if !show_secrets {
        if let Some(o) = v.as_object_mut() {
            for k in CONFIG_SECRETS {
                if let Some(field) = o.get_mut(k) {
                    *field = json!("hidden (--show-secrets shows it)");
                }
            }
        }
    }
    Ok(v)
}

pub fn run(repo: &Repository, what: &str, arg: Option<&str>, show_secrets: bool) -> Result<CatOutput> {
    let need = || arg.ok_or_else(|| Error::usage(format!("`cat {what}` needs an id")));
    Ok(CatOutput::Json(match what {
        "config" => config_json(repo, show_secrets)?,
        "index" => {
            let id = object_id(repo, ObjectKind::Index, need()?)?;
            let f = repo.load_index_file(&id)?;
            json!({
                "supersedes": f.supersedes.iter().map(|s| s.to_hex()).collect::<Vec<_>>(),
                "packs": f.packs.iter().map(|p| json!({"id": p.id.to_hex(), "blobs": entries_json(&p.blobs)})).collect::<Vec<_>>(),
            })
        }
        "snapshot" => {
            let (id, s) = select(repo, need()?, &Filter::default())?;
            let mut v = to_json(&s)?;
            v["id"] = json!(id.to_hex());
            v
        }
        "key" => {
            let id = object_id(repo, ObjectKind::Key, need()?)?;
            let k = KeyFile::decode(&repo.read(ObjectKind::Key, &id)?)?;
            json!({"id": id.to_hex(), "kdf": k.kdf, "params": k.params, "salt": hex::encode(&k.salt), "created": k.created, "hostname": k.hostname, "username": k.username})
        }
        "lock" => {
            let id = object_id(repo, ObjectKind::Lock, need()?)?;
            to_json(&repo.load_lock(&id)?)?
        }
        "pack" => {
            let id = PackId::from_hex(need()?).ok_or_else(|| Error::usage("pack ids are 64 hex digits"))?;
            let bytes = repo.read_pack_verified(&id)?;
            let size = bytes.len() as u64;
            json!({"id": id.to_hex(), "size": size, "blobs": entries_json(&repo.decode_pack_header(&bytes, size)?)})
        }
        "blob" => {
            let id = BlobId::from_hex(need()?).ok_or_else(|| Error::usage("blob ids are 64 hex digits"))?;
            let t = repo.index()?.get(&id).map(|l| l.entry.blob_type).unwrap_or(BlobType::Data);
            return Ok(CatOutput::Bytes(repo.read_blob(t, &id)?));
        }
        "tree" => {
            let spec = super::select::SnapshotPath::parse(need()?);
            let (id, snap) = select(repo, spec.snapshot, &Filter::default())?;
            let path = spec.path.map(|p| super::select::absolute_in(repo, &snap, &id, p)).transpose()?;
            let tree = super::select::resolve_dir(repo, &snap.tree, path.as_deref(), &id)?;
            to_json(&tree_json(repo, &tree)?)?
        }
        other => {
            return Err(Error::usage(format!("unknown object type {other:?}"))
                .hint("config, index, pack, blob, snapshot, tree, key, lock"))
        }
    }))
}

fn tree_json(repo: &Repository, id: &TreeId) -> Result<Value> {
    let t = repo.load_tree(id)?;
    let nodes: Vec<Value> = t
        .nodes
        .iter()
        .map(|n| {
            let mut v = serde_json::to_value(super::ls::LsNode::new(n, String::new())).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.remove("path");
                o.remove("struct_type");
                o.insert("name_bytes".into(), json!(hex::encode(&n.name)));
                o.insert("content".into(), json!(n.content.iter().map(|c| c.to_hex()).collect::<Vec<_>>()));
                if let Some(b) = &n.inline {
                    o.insert("inline".into(), json!(hex::encode(b)));
                }
                if !n.content_lists.is_empty() {
                    o.insert(
                        "content_lists".into(),
                        json!(n.content_lists.iter().map(|c| c.to_hex()).collect::<Vec<_>>()),
                    );
                }
                if let Some(s) = n.subtree {
                    o.insert("subtree".into(), json!(s.to_hex()));
                }
                if !n.xattrs.is_empty() {
                    o.insert(
                        "xattrs".into(),
                        json!(n
                            .xattrs
                            .iter()
                            .map(|x| json!({"name": String::from_utf8_lossy(&x.name), "value": hex::encode(&x.value)}))
                            .collect::<Vec<_>>()),
                    );
                }
            }
            v
        })
        .collect();
    Ok(json!({"id": id.to_hex(), "nodes": nodes}))
}
