#!/bin/sh
# The ext4 `recently_deleted` effect, reproduced: creating many files right after deleting
# many files is several times slower on an ext4 without a journal (as the bench machine's
# root file system is: no /proc/fs/jbd2/<dev> entry), and not at all on one with a journal.
#
# Why (fs/ext4/ialloc.c): without a journal, the inode allocator skips a free inode whose
# deletion time is less than 5 s old, or less than 305 s old while its inode table block is
# dirty in the buffer cache (`recently_deleted()`, RECENTCY_MIN + RECENTCY_DIRTY), so that a
# crash cannot leave a new file with a stale on-disk inode. After `rm -rf` of a large tree,
# each new inode is found by a scan of the group's bitmap past those inodes, one buffer lookup
# each; every file created dirties its inode table block again, which keeps the neighbours in
# the 305 s window. A restore (or `cp -a`) into the place of a tree just deleted pays that
# scan per file: the bench's `full restore` of a 200,000-file corpus ran 14.2 s in one run and
# 6.3 s in another (benches/results/peers-2026-12-03*.md), depending on how long before it the
# previous tool's restored tree had been removed.
#
# Usage (as root: it makes two loop-mounted file systems in a scratch directory):
#   benches/recently-deleted.sh [FILES] [SCRATCH]
# FILES (default 100000) files of 1 KiB, 50 per directory; SCRATCH (default /var/tmp) must
# have 3 GB free. Prints the seconds of `cp -a` of the tree into: a fresh file system; the
# same right after `rm -rf` of a copy; after `rm -rf`, `sync` and 6 s; on both kinds of ext4.
set -eu
files=${1:-100000}
scratch=$(mktemp -d "${2:-/var/tmp}/recently-deleted.XXXXXX")
mnt=$scratch/mnt
cleanup() {
    mountpoint -q "$mnt" && umount "$mnt"
    rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

python3 - "$scratch/tree" "$files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
block = bytes(range(256)) * 4
for i in range(n):
    d = os.path.join(root, "d%05d" % (i // 50))
    if i % 50 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%07d" % i), "wb") as f:
        f.write(block)
EOF

# one fresh ext4 of each kind, 4 GiB sparse, mounted on $mnt
fresh() {
    mountpoint -q "$mnt" && umount "$mnt"
    rm -f "$scratch/fs.img"
    truncate -s 4G "$scratch/fs.img"
    mkfs.ext4 -q -F $1 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$scratch/fs.img"
    mkdir -p "$mnt"
    mount -o loop "$scratch/fs.img" "$mnt"
}
copy() {
    /usr/bin/time -f %e -o "$scratch/t" cp -a "$scratch/tree" "$mnt/$1"
    cat "$scratch/t"
}

find "$scratch/tree" -type f -exec cat {} + >/dev/null
echo "cp -a of $files files of 1 KiB into a loop-mounted ext4 (seconds)"
echo "| ext4 | fresh | right after rm -rf | after rm -rf, sync, 6 s |"
echo "|---|---:|---:|---:|"
for kind in "without a journal:-O ^has_journal" "with a journal:-O has_journal"; do
    fresh "${kind#*:}"
    sync
    a=$(copy a)
    rm -rf "$mnt/a"
    b=$(copy b)
    rm -rf "$mnt/b"
    sync
    sleep 6
    c=$(copy c)
    echo "| ${kind%%:*} | $a | $b | $c |"
done
