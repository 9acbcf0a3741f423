#!/usr/bin/env bash
# The SLURM tests against a real cluster, from nothing: installs SLURM from Debian's packages
# (slurm-wlm, munge) if needed, starts a single-node cluster on this machine, and runs the tests
# marked `slurm` (tests/test_slurm.py): multi-host JAX under srun, a staged sweep submitted as
# job arrays and collected, a task requeued before its time limit that resumes exactly.
#
#   bash tests/slurm/run.sh            # from the repository root, in the project's venv
#
# Kept out of `python -m pytest` (they need root and apt, and take minutes); the README states
# their last result. Exits 3 where SLURM cannot be installed (it says why).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
bash tests/slurm/local_cluster.sh start
python -m pytest -m slurm tests/test_slurm.py -v "$@"
echo "tests/slurm/run.sh: $(( $(date +%s) - start )) s in all (cluster start included)"
