#!/usr/bin/env bash
# Install what the SLURM test tier (tests/workflow/test_slurm.py) needs: the Debian 12 packages
# slurm-wlm (slurmctld, slurmd), slurm-client (sbatch, squeue, ...) and munge.
# Only as root with apt-get, and only if something is missing; otherwise it says why it
# does nothing and exits 0 (the tier then skips with the same reason).
set -euo pipefail
missing=()
for bin in munged mungekey slurmctld slurmd sbatch srun squeue sinfo scontrol scancel sacct; do
  command -v "$bin" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "slurm-deps: SLURM and munge already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-deps: not root, not installing (missing: ${missing[*]}); the SLURM test tier will be skipped"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "slurm-deps: no apt-get, not installing (missing: ${missing[*]}); the SLURM test tier will be skipped"
  exit 0
fi
echo "slurm-deps: apt-get install slurm-wlm munge slurm-client (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq slurm-wlm munge slurm-client >/dev/null
echo "slurm-deps: installed $(dpkg-query -W -f '${Package} ${Version}, ' slurm-wlm slurm-client munge)"
