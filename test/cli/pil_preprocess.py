"""PIL's half of BitImageProcessor for test/cli/preprocess.test.ts (run only where Pillow is installed).

    python3 pil_preprocess.py IMAGE SHORTEST_EDGE CROP_H CROP_W RESAMPLE OUT.raw

Writes the uint8 RGB pixels (crop_h, crop_w, 3) that transformers' BitImageProcessor (PIL path)
hands to rescale/normalize: Image.open(IMAGE).convert('RGB'), the shortest edge resized to
SHORTEST_EDGE (long side int(edge * long / short)) with PIL filter RESAMPLE, then center-cropped
with top = (h - crop_h) // 2 (zeros outside the image). The float steps are a fixed table of the
uint8 value, so the test applies them itself.
"""
import sys

import PIL
from PIL import Image


def main() -> None:
    path, edge, crop_h, crop_w, resample, out = sys.argv[1:]
    edge, crop_h, crop_w, resample = int(edge), int(crop_h), int(crop_w), int(resample)
    im = Image.open(path).convert("RGB")
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(edge * long / short)
    size = (edge, new_long) if w <= h else (new_long, edge)
    im = im.resize(size, resample=resample)
    top = (im.height - crop_h) // 2
    left = (im.width - crop_w) // 2
    im = im.crop((left, top, left + crop_w, top + crop_h))  # PIL fills outside the image with zeros
    with open(out, "wb") as f:
        f.write(im.tobytes())
    print(f"Pillow {PIL.__version__}")


if __name__ == "__main__":
    main()
