#!/usr/bin/env bash
# Side by side with restic on one corpus: first backup, unchanged re-backup, full restore
# (verified on rep 1), repository size; wall, user, sys seconds and peak RSS KiB per step.
# Warm page cache. Needs restic (apt-get install restic) and `cargo build --release`.
# usage: benches/vs-restic.sh CORPUS [REPS]   (WORK=dir for repositories, default /tmp)
set -u
CORPUS=$1; REPS=${2:-3}
ARCA=${ARCA:-$(cd "$(dirname "$0")/.." && pwd)/target/release/arca}
export RESTIC_PASSWORD=bench ARCA_PASSWORD=bench
W=${WORK:-/tmp/arca-vs-restic}; mkdir -p $W
t() { /usr/bin/time -f "%e %U %S %M" -o $W/time "$@" >/dev/null 2>$W/err || { echo "FAILED: $*"; tail -3 $W/err; }; cat $W/time; }
for r in $(seq $REPS); do
  for tool in arca restic; do
    rm -rf $W/$tool-repo $W/$tool-cache $W/$tool-out; sync
    case $tool in
      arca)
        $ARCA -r $W/arca-repo --cache-dir $W/arca-cache init -q >/dev/null
        a=$(t $ARCA -r $W/arca-repo --cache-dir $W/arca-cache backup -q $CORPUS); sync
        b=$(t $ARCA -r $W/arca-repo --cache-dir $W/arca-cache backup -q $CORPUS); sync
        d=$(t $ARCA -r $W/arca-repo --cache-dir $W/arca-cache restore -q latest --target $W/arca-out) ;;
      restic)
        restic -r $W/restic-repo --cache-dir $W/restic-cache init -q >/dev/null
        a=$(t restic -r $W/restic-repo --cache-dir $W/restic-cache backup -q $CORPUS); sync
        b=$(t restic -r $W/restic-repo --cache-dir $W/restic-cache backup -q $CORPUS); sync
        d=$(t restic -r $W/restic-repo --cache-dir $W/restic-cache restore -q latest --target $W/restic-out) ;;
    esac
    size=$(du -sb $W/$tool-repo | cut -f1)
    echo "rep=$r tool=$tool first=[$a] rebackup=[$b] restore=[$d] repo_bytes=$size"
    if [ $r = 1 ]; then diff -rq --no-dereference $CORPUS $W/$tool-out$CORPUS >/dev/null && echo "  verified $tool restore" || echo "  RESTORE DIFFERS for $tool"; fi
    rm -rf $W/$tool-out
  done
done
