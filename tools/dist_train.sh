#!/usr/bin/env bash
# Train with N processes on this machine through torchrun (one per GPU; gloo CPU processes
# when there is no GPU).
#   bash tools/dist_train.sh CONFIG N [tools/train.py arguments...]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500) for
# several machines; see docs/training.md.
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCESSES [train.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
