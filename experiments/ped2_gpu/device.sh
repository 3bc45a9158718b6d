#!/usr/bin/env bash
# experiments/ped2_gpu on a lent GPU machine (DEVELOPERS.md, the device tool): torch is there,
# DVC, MLflow and ultralytics are not, and one call carries at most 64 MiB. So the data travels in
# three calls and each phase runs the very commands of the DVC stages, rendered by render.py:
#
#   bash experiments/ped2_gpu/device.sh pack   # here: .gpu/a, .gpu/b, .gpu/c (~55 MB each)
#   run(carry=[".gpu/a"], command="bash experiments/ped2_gpu/device.sh a")  # models, wheels,
#       training videos 01-08; checks the machine; `ssmtl bench model` on CUDA
#   run(carry=[".gpu/b"], command="bash experiments/ped2_gpu/device.sh b")  # videos 09-16, gt,
#       boxes, the test split's teacher targets; detect, teachers and tubes of the training split
#   run(carry=[".gpu/c"], command="bash experiments/ped2_gpu/device.sh c")  # test videos;
#       train every run of params.yaml at once, then their convergence tables
#
# Each call copies its part to $STAGE, which stays on the machine while it is held. What comes
# back ($OUT): the logs, the metrics files, each run's selected and last weights; here,
#   bash experiments/ped2_gpu/device.sh unpack FILES_AT_A FILES_AT_C
# puts them in place, records them with DVC and rebuilds the report.
set -euo pipefail
export STAGE=${STAGE:-/var/tmp/ssmtl_stage}
# a dry run elsewhere: RENDER_EXTRA="--set device=cpu" RUNS="sn_gpu_seed0" STAGE=/tmp/dry
HERE=experiments/ped2_gpu
BENCH_DEVICE=${BENCH_DEVICE:-cuda}
OUT=${OUT:-/tmp/ssmtl_out}
mkdir -p "$OUT"

pack() {  # here, with ../shared beside the checkout and the Ped2 study's test teachers built
  local shared=${SHARED:-../shared} frames
  rm -rf .gpu && mkdir -p .gpu/a/ped2/training/frames .gpu/b/ped2/training/frames \
    .gpu/c/ped2/testing .gpu/a/wheels
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  cp -r "$shared/models" .gpu/a/models
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d .gpu/a/wheels \
    ultralytics==8.4.190 ultralytics-thop==2.2.3
  frames=$shared/data/ped2/training/frames
  for v in 01 02 03 04 05 06 07 08; do cp -r "$frames/$v" .gpu/a/ped2/training/frames/; done
  for v in 09 10 11 12 13 14 15 16; do cp -r "$frames/$v" .gpu/b/ped2/training/frames/; done
  cp -r "$shared/data/ped2/gt" "$shared/data/ped2/detections" .gpu/b/ped2/
  # eq. (6)'s T4 term needs only the detector's 80 columns of the test targets (section 3.4)
  python3 -c "import numpy as np; t = np.load('artifacts/ped2/teachers/test.npy', mmap_mode='r'); \
np.savez_compressed('.gpu/b/test_detector_targets.npz', detector=np.asarray(t[:, 1000:]), \
shape=np.array(t.shape))"
  cp -r "$shared/data/ped2/testing/frames" .gpu/c/ped2/testing/
  du -sh .gpu/*
}

setup() {  # every call on the machine
  export PYTHONPATH=$STAGE/site:$PWD PYTHONUNBUFFERED=1 SSMTL_TRACKING=off
  export PATH=$STAGE/bin:$PATH MPLBACKEND=Agg YOLO_OFFLINE=1
  mkdir -p "$STAGE/bin" "$STAGE/artifacts"
  printf '#!/bin/sh\nexec python3 -c "import sys; from bench.cli import main; sys.exit(main())" "$@"\n' \
    >"$STAGE/bin/ssmtl"
  chmod +x "$STAGE/bin/ssmtl"
  # the outputs live in $STAGE, so no copy of the working tree can replace them
  if [ -e artifacts ] && [ ! -L artifacts ]; then
    echo "artifacts/ exists here: run this on the device machine or in a scratch clone"; exit 2
  fi
  ln -sfn "$STAGE/artifacts" artifacts
}

stage() {  # $1: the carried part
  mkdir -p "$STAGE"
  cp -r "$1"/. "$STAGE"/
}

render() {  # the command of DVC stage $2 of $1, with this machine's paths
  # shellcheck disable=SC2086  # RENDER_EXTRA: several words
  python3 $HERE/render.py "$1" "$2" --set root="$STAGE/ped2" --set models_dir="$STAGE/models" \
    ${RENDER_EXTRA:-} "${@:3}"
}

part_a() {
  stage .gpu/a
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$STAGE/site" \
    "$STAGE"/wheels/*.whl
  setup
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  python3 - <<EOF
import torch, ultralytics, bench.cli
from bench.teachers.imagenet import ImageNetTeacher
from bench.detection.yolo import YoloRunner
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0),
      "bf16", torch.cuda.is_bf16_supported(), "ultralytics", ultralytics.__version__)
ImageNetTeacher("$STAGE/models/mobilenet_v2_imagenet.torchscript.pt", device="$BENCH_DEVICE")
YoloRunner("$STAGE/models/yolo11n_coco.pt", "$BENCH_DEVICE", 640, None, True)
print("teachers load on $BENCH_DEVICE")
EOF
  # issue 15's GPU figures: the 3D CNN alone, on random tubes, fp32 vs bf16, both layouts
  timeout 90 ssmtl bench model --device "$BENCH_DEVICE" --arch shallow_narrow deep_wide \
    --batch-size 64 --precision fp32 bf16 --channels-last on off --steps 10 --json \
    >"$OUT/bench_model_cuda.json" || echo "bench model: timed out or failed"
  timeout 60 ssmtl bench model --device "$BENCH_DEVICE" --arch shallow_narrow --batch-size 64 \
    --precision bf16 --channels-last on --compile on --steps 10 --json \
    >"$OUT/bench_model_cuda_compile.json" || echo "bench model --compile on: timed out or failed"
}

part_b() {
  stage .gpu/b
  setup
  test -d "$STAGE/ped2/training/frames/01" -a -d "$STAGE/site/ultralytics" ||
    { echo "part a is not on this machine: run part a first"; exit 3; }
  [ "$(ls "$STAGE/ped2/training/frames" | wc -l)" = 16 ] ||
    { echo "$STAGE/ped2/training/frames: not the 16 training videos"; exit 3; }
  eval "$(render experiments/ped2/dvc.yaml detect@train)"
  # the teachers on the GPU; should that fail, on the machine's 16 CPU cores
  { eval "$(render experiments/ped2/dvc.yaml teachers@train --append "--device $BENCH_DEVICE")" ||
    eval "$(render experiments/ped2/dvc.yaml teachers@train --append "--device cpu")"; } \
    >"$STAGE/teachers_train.log" 2>&1 &
  eval "$(render experiments/ped2/dvc.yaml tubes@train)" >"$STAGE/tubes_train.log" 2>&1 &
  frame_inputs train >"$STAGE/frame_train.log" 2>&1 &
  wait -n && wait -n && wait -n || { tail -20 "$STAGE"/*_train.log; exit 4; }
  tail -3 "$STAGE"/teachers_train.log "$STAGE"/tubes_train.log "$STAGE"/frame_train.log
}

frame_inputs() {  # the frame level's boxes (whole frames), ImageNet targets and tubes of split $1
  eval "$(render experiments/ped2/dvc.yaml "detect_frame@$1")"
  eval "$(render experiments/ped2/dvc.yaml "teachers_frame@$1" --append "--device $BENCH_DEVICE")"
  eval "$(render experiments/ped2/dvc.yaml "tubes_frame@$1")"
}

runs() {
  echo "${RUNS:-$(python3 -c "import yaml; print(' '.join(yaml.safe_load(open('$HERE/params.yaml'))['runs']))")}"
}

part_c() {
  stage .gpu/c
  setup
  test -f artifacts/ped2/teachers/train.npy -a -f artifacts/ped2/tubes/train/meta.json \
    -a -f artifacts/ped2/tubes/frame_train/meta.json ||
    { echo "part b is not on this machine: run parts a and b first"; exit 3; }
  local run pids=()
  for run in $(runs); do
    eval "$(render $HERE/dvc.yaml "train@$run")" >"$STAGE/train_$run.log" 2>&1 &
    pids+=($!)
  done
  eval "$(render experiments/ped2/dvc.yaml detect@test)"
  python3 - <<'EOF'
import os
import numpy as np
from bench.detection import Detections
part = np.load(os.path.join(os.environ["STAGE"], "test_detector_targets.npz"))
n = len(Detections.load("artifacts/ped2/detections/test.npz"))
if n != int(part["shape"][0]):
    raise SystemExit(f"test detections: {n} rows here, {int(part['shape'][0])} in the targets")
targets = np.full(tuple(part["shape"]), np.nan, np.float32)
targets[:, 1000:] = part["detector"]
np.save("artifacts/ped2/teachers/test.npy", targets)
print("test targets:", targets.shape)
EOF
  eval "$(render experiments/ped2/dvc.yaml tubes@test)" >"$STAGE/tubes_test.log" 2>&1
  frame_inputs test >"$STAGE/frame_test.log" 2>&1 || echo "frame-level test inputs failed"
  for pid in "${pids[@]}"; do wait "$pid" || echo "a training run failed (see its log)"; done
  tail -n 4 "$STAGE"/train_*.log
  pids=()
  for run in $(runs); do
    [ -f "artifacts/ped2_gpu/$run/resume.pt" ] || continue
    eval "$(render $HERE/dvc.yaml "convergence@$run")" >"$STAGE/convergence_$run.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || echo "a convergence table failed (see its log)"; done
  tail -n 12 "$STAGE"/convergence_*.log
  collect
}

collect() {  # what comes back: <= 8 files
  tar czf "$OUT/metrics.tgz" metrics/ped2/convergence/*gpu* metrics/ped2/convergence/plots/*gpu* \
    2>/dev/null || true
  tar czf "$OUT/logs.tgz" -C "$STAGE" $(cd "$STAGE" && ls ./*.log)
  local run best last
  for run in $(runs); do
    [ -d "artifacts/ped2_gpu/$run" ] || continue
    last=$(cd "artifacts/ped2_gpu/$run" && ls epoch_*.pt | tail -1)
    best=best.pt
    tar cf "$OUT/$run.tar" -C artifacts/ped2_gpu "$run/$best" "$run/$last"
  done
  ls -la "$OUT"
}

unpack() {  # here, with the folders the three calls' files came back in (files_at)
  local dir file
  mkdir -p metrics/gpu artifacts/ped2_gpu
  for dir in "$@"; do
    for file in "$dir"/*; do
      case "$(basename "$file")" in
        bench_model_cuda.json) cp "$file" metrics/gpu/bench_model.json ;;
        bench_model_cuda_compile.json) cp "$file" metrics/gpu/bench_model_compile.json ;;
        metrics.tgz) tar xzf "$file" ;;
        *.tar) tar xf "$file" -C artifacts/ped2_gpu ;;
        *) cp "$file" "${TMPDIR:-/tmp}/" ;;  # logs
      esac
    done
  done
  # DVC records the outputs against their inputs, which the Ped2 study builds on this machine
  dvc repro experiments/ped2/dvc.yaml:tubes@train experiments/ped2/dvc.yaml:teachers@train \
    experiments/ped2/dvc.yaml:tubes@test experiments/ped2/dvc.yaml:teachers@test
  dvc commit -f experiments/ped2_gpu/dvc.yaml
  dvc repro -s -f report
}

case "${1:-}" in
  pack) pack ;;
  unpack) shift; unpack "$@" ;;
  a) part_a 2>&1 | tee "$OUT/log_a.txt" ;;
  b) part_b 2>&1 | tee "$OUT/log_b.txt" ;;
  c) part_c 2>&1 | tee "$OUT/log_c.txt" ;;
  *) echo "usage: $0 pack|a|b|c|unpack DIR..."; exit 2 ;;
esac
