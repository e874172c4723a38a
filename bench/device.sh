#!/usr/bin/env bash
# Benchmarks on the NVIDIA machine the device tool lends, in one call; or a dry run of the same
# steps here.
#
#   here, first:  bash bench/device.sh --pack      builds bench/.device (Node, Dawn, Vulkan loader, bundles; ~30 MB)
#   here, check:  bash bench/device.sh --dry-run   the same steps on this machine's adapter (SwiftShader
#                                                 accepted), small model, 28 x 28 px, no PyTorch
#   there:        the device tool's run with command "bash bench/device.sh", carry ["bench/.device"],
#                 timeout_s 540 (about 3 to 5 minutes expected)
#
# There the script unpacks Node and Dawn (into $TMPDIR, so the carried folder stays small), uses the
# system's Vulkan loader or else the carried one, points the loader at NVIDIA's ICD, checks that
# Dawn's adapter is the NVIDIA GPU and not a software fallback, runs our engine on small, base and
# large at 224 x 224, batch 1 and 32, fp32 and fp16 (when the adapter has shader-f16), then the same shapes in
# PyTorch (fp32 with TF32 off, and fp16) when torch is there, and prints one table last. Logs and
# JSON lines go to $OUT (which the device tool brings back), else to bench/.cache/device-out.
#
# Options: --skip-torch, --allow-software (accept a CPU adapter: the numbers are then not GPU
# numbers), --carried-loader (use the carried libvulkan.so.1 even when the system has one).
# Environment: SIZES (small,base,large), BATCHES (1,32), IMAGE (224), RUNS (20), WARMUP (3),
# BUDGET (420: seconds for both engines; each shape of ours stops timing after MAX_SECONDS, 20, and
# shapes left when ours has used BUDGET - 150 s are skipped, so PyTorch and the table still come).
set -uo pipefail
cd "$(dirname "$0")/.."
PACK=bench/.device
MODE=device
TORCH=1
ALLOW_SOFTWARE=0
CARRIED_LOADER=0
while (($#)); do
  case $1 in
    --pack) exec npx tsx bench/pack_device.ts ;;
    --dry-run) MODE=dry ;;
    --skip-torch) TORCH=0 ;;
    --allow-software) ALLOW_SOFTWARE=1 ;;
    --carried-loader) CARRIED_LOADER=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "device.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ $MODE == dry ]]; then
  SIZES=${SIZES:-small} BATCHES=${BATCHES:-1,2} IMAGE=${IMAGE:-28} RUNS=${RUNS:-2} WARMUP=${WARMUP:-1}
  TORCH=0 ALLOW_SOFTWARE=1
else
  SIZES=${SIZES:-small,base,large} BATCHES=${BATCHES:-1,32} IMAGE=${IMAGE:-224} RUNS=${RUNS:-20} WARMUP=${WARMUP:-3}
fi
BUDGET=${BUDGET:-420} MAX_SECONDS=${MAX_SECONDS:-20}

OUTDIR=${OUT:-bench/.cache/device-out}
mkdir -p "$OUTDIR"
rm -f "$OUTDIR"/{ours.jsonl,torch.jsonl,table.txt,env.txt,device.log}
exec > >(tee "$OUTDIR/device.log") 2>&1
say() { echo "[device.sh] $*"; }
NOTES=()

if [[ ! -f $PACK/MANIFEST.json ]]; then
  say "$PACK is missing: run 'bash bench/device.sh --pack' here first, and name bench/.device in the device tool's carry"
  exit 1
fi

# --- Node and Dawn, unpacked outside the carried folder -------------------------------------------
unxz_to() { # unxz_to FILE.xz OUT: xz, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
# In $TMPDIR, or in bench/.cache where /tmp will not run programs (noexec).
RUN=
for base in "${TMPDIR:-/tmp}" "$PWD/bench/.cache"; do
  cand=$base/dinov2-bench-runtime
  rm -rf "$cand" && mkdir -p "$cand" && cp -r "$PACK"/. "$cand"/ || continue
  unxz_to "$cand/bin/node.xz" "$cand/bin/node" && chmod +x "$cand/bin/node" || { say "could not unpack Node in $base"; continue; }
  if "$cand/bin/node" --version >/dev/null 2>&1; then RUN=$cand; break; fi
  say "Node does not run from $base"; rm -rf "$cand"
done
[[ -n $RUN ]] || { say "no place to run the carried Node from"; exit 1; }
unxz_to "$RUN/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$RUN/node_modules/webgpu/dist/linux-x64/dawn.node" || { say "could not unpack dawn.node"; exit 1; }
rm -f "$RUN"/bin/node.xz "$RUN"/node_modules/webgpu/dist/linux-x64/dawn.node.xz
NODE=$RUN/bin/node
say "Node $("$NODE" --version) ($(uname -m), $(uname -r)), runtime in $RUN"

# --- The Vulkan loader and NVIDIA's ICD -----------------------------------------------------------
if [[ $CARRIED_LOADER == 0 ]] && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  say "Vulkan loader: the system's ($(ldconfig -p | grep 'libvulkan\.so\.1 ' | head -1 | sed 's/.*=> //'))"
else
  export LD_LIBRARY_PATH="$RUN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: the carried one ($RUN/lib/libvulkan.so.1)"
fi
if [[ $MODE == device && -z ${VK_ICD_FILENAMES:-} && -z ${VK_DRIVER_FILES:-} ]]; then
  ICD=
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    [[ -f $f ]] && { ICD=$f; break; }
  done
  [[ -z $ICD ]] && ICD=$(find /usr/local/nvidia /usr/share/vulkan /etc/vulkan /usr/local/share /opt -maxdepth 5 -name 'nvidia_icd*.json' 2>/dev/null | head -1)
  if [[ -n $ICD ]]; then
    export VK_ICD_FILENAMES=$ICD VK_DRIVER_FILES=$ICD
    # The ICD names its driver library, often bare (libGLX_nvidia.so.0): make sure the loader finds it.
    LIB=$(sed -n 's/.*"library_path" *: *"\([^"]*\)".*/\1/p' "$ICD" | head -1)
    if [[ -n $LIB && $LIB != */* ]] && ! ldconfig -p 2>/dev/null | grep -q "$LIB"; then
      for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
        [[ -e $d/$LIB ]] && { export LD_LIBRARY_PATH="$LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:}$d"; break; }
      done
    fi
    say "Vulkan ICD: $ICD (driver library ${LIB:-?})"
  else
    say "no NVIDIA Vulkan ICD found (looked in /usr/local/nvidia/share/vulkan/icd.d, /usr/share/vulkan/icd.d, /etc/vulkan/icd.d)"
  fi
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "mode: $MODE; sizes $SIZES; batches $BATCHES; image $IMAGE; runs $RUNS; warm-up $WARMUP"
  echo "uname: $(uname -a)"
  echo "node: $("$NODE" --version); pack: $(grep -m1 '"made"' "$PACK/MANIFEST.json" | tr -d ' ,')"
  echo "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,utilization.gpu --format=csv
  command -v python3 >/dev/null && python3 -c 'import sys; print("python", sys.version.split()[0])'
} | tee "$OUTDIR/env.txt"

# --- Which adapter does Dawn give? ----------------------------------------------------------------
# (The dry run points the loader at SwiftShader as the library does when it finds no adapter.)
if [[ $MODE == dry && -z ${VK_ICD_FILENAMES:-} && -f /usr/lib/chromium/vk_swiftshader_icd.json ]]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
PROBE='import { create } from "'$RUN'/node_modules/webgpu/index.js";
const gpu = create([]);
const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
console.log(JSON.stringify(a ? { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description } : null));
setTimeout(() => process.exit(0), 50);'
ADAPTER=$("$NODE" --input-type=module -e "$PROBE" 2>/dev/null | tail -1)
say "Dawn's adapter: ${ADAPTER:-none}"
OURS=1
if ! grep -qi nvidia <<<"$ADAPTER"; then
  if [[ $ALLOW_SOFTWARE == 1 ]]; then
    say "not an NVIDIA adapter; accepted (--allow-software / --dry-run): our numbers below are NOT GPU numbers"
  else
    say "Dawn's adapter is not the NVIDIA GPU; the Vulkan loader's account (VK_LOADER_DEBUG):"
    VK_LOADER_DEBUG=error,warn,driver "$NODE" --input-type=module -e "$PROBE" 2>&1 | tail -40
    NOTES+=("our engine not run: Dawn's adapter was ${ADAPTER:-none}, not the NVIDIA GPU")
    OURS=0
  fi
fi

# --- Our engine -----------------------------------------------------------------------------------
BENCH=("$NODE" "$RUN/bench.mjs")
export DINOV2_BENCH_LIBRARY=$RUN/dist/node.js
REQUIRE_GPU=()
[[ $ALLOW_SOFTWARE == 0 ]] && REQUIRE_GPU=(--require-gpu)
DTYPES=(fp32)
if [[ $OURS == 1 ]]; then
  # fp16 needs the adapter's shader-f16: a one-run probe, whose error becomes a note when it fails.
  FP16=$("${BENCH[@]}" --random-weights small --dtype fp16 --size 14 --warmup 1 --runs 1 --no-kernel-times 2>&1 >/dev/null)
  if [[ $? != 0 ]]; then NOTES+=("ours fp16 skipped: $(grep -m1 -i 'error\|fp16' <<<"$FP16" || head -1 <<<"$FP16")"); else DTYPES+=(fp16); fi
  for size in ${SIZES//,/ }; do
    for batch in ${BATCHES//,/ }; do
      for dtype in "${DTYPES[@]}"; do
        LEFT=$((BUDGET - 150 - SECONDS))
        if ((LEFT < 30)); then
          NOTES+=("ours $size batch $batch $dtype skipped: the time budget (BUDGET=$BUDGET s) ran out")
          continue
        fi
        say "ours: $size, batch $batch, $IMAGE px, $dtype (at ${SECONDS} s)"
        OUTPUT=$(timeout "$LEFT" "${BENCH[@]}" --random-weights "$size" --size "$IMAGE" --batch "$batch" --dtype "$dtype" \
          --runs "$RUNS" --warmup "$WARMUP" --max-seconds "$MAX_SECONDS" --sync done --json "${REQUIRE_GPU[@]}")
        RC=$?
        echo "$OUTPUT" | grep -v '^{'
        LAST=$(echo "$OUTPUT" | tail -1)
        if [[ $LAST == '{'* ]]; then echo "$LAST" >>"$OUTDIR/ours.jsonl"
        else echo "{\"engine\":\"dinov2-webgpu\",\"model\":\"random:$size\",\"size\":$IMAGE,\"batch\":$batch,\"dtype\":\"$dtype\",\"error\":\"exit $RC (see device.log)\"}" >>"$OUTDIR/ours.jsonl"; fi
      done
    done
  done
fi

# --- PyTorch --------------------------------------------------------------------------------------
python3 -m py_compile bench/torch_bench.py 2>/dev/null && rm -rf bench/__pycache__ || say "bench/torch_bench.py does not compile"
if [[ $TORCH == 1 ]] && command -v python3 >/dev/null; then
  say "PyTorch: $SIZES, batches $BATCHES, $IMAGE px, fp32 (TF32 off) and fp16 (at ${SECONDS} s)"
  LEFT=$((BUDGET + 60 - SECONDS)); ((LEFT < 120)) && LEFT=120
  PYTHONUNBUFFERED=1 timeout "$LEFT" python3 bench/torch_bench.py --configs "$RUN/configs" --sizes "$SIZES" --batches "$BATCHES" \
    --image "$IMAGE" --runs "$RUNS" --warmup 5 >"$OUTDIR/torch.jsonl" || say "torch_bench.py exited $?"
else
  NOTES+=("PyTorch not run (--dry-run / --skip-torch, or no python3)")
fi

# --- One table ------------------------------------------------------------------------------------
echo
TABLE_ARGS=("$OUTDIR/ours.jsonl" "$OUTDIR/torch.jsonl")
[[ $ALLOW_SOFTWARE == 1 ]] && TABLE_ARGS+=(--allow-software)
NOTE_TEXT=$(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}")
"$NODE" "$RUN/device_table.mjs" "${TABLE_ARGS[@]}" --notes "$NOTE_TEXT" | tee "$OUTDIR/table.txt"
STATUS=${PIPESTATUS[0]}
[[ $OURS == 0 && $ALLOW_SOFTWARE == 0 ]] && STATUS=4
rm -rf "$RUN"
exit "$STATUS"
