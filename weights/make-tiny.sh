#!/usr/bin/env bash
# Makes the tiny test model, weights/tiny-dinov2-with-registers/ (or the folder given), the same
# bytes every time: a Dinov2WithRegistersModel with hidden 64, 3 layers, 4 heads, patch 14,
# image 224 and 4 registers, seeded random F32 weights (scripts/make_random_checkpoint.ts, seed 1),
# and the preprocessor_config.json of facebook/dinov2-with-registers-*. About 830 kB.
#   weights/make-tiny.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/weights/tiny-dinov2-with-registers}"
cd "$root"
npx tsx scripts/make_random_checkpoint.ts --out "$out" \
  --hidden 64 --layers 3 --heads 4 --patch 14 --image-size 224 --registers 4 --seed 1
cat > "$out/preprocessor_config.json" <<'JSON'
{
  "crop_size": {
    "height": 224,
    "width": 224
  },
  "do_center_crop": true,
  "do_convert_rgb": true,
  "do_normalize": true,
  "do_rescale": true,
  "do_resize": true,
  "image_mean": [
    0.485,
    0.456,
    0.406
  ],
  "image_processor_type": "BitImageProcessor",
  "image_std": [
    0.229,
    0.224,
    0.225
  ],
  "resample": 3,
  "rescale_factor": 0.00392156862745098,
  "size": {
    "shortest_edge": 256
  }
}
JSON
