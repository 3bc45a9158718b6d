#!/bin/bash
. /work/main/.venv/bin/activate
export PYTHONPATH=/work/ped2run SSMTL_MODELS_DIR=/work/shared/models
cd /work/ped2run
for target in train@s10_seed2 convergence@s10_seed2 head_scale@s10_seed2; do
  echo "=== $target $(date)"
  dvc repro -s experiments/ped2/dvc.yaml:$target || exit 1
done
echo "=== done $(date)"
