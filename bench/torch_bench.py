#!/usr/bin/env python3
"""The PyTorch side of bench/device.sh: transformers' Dinov2WithRegistersModel, built from the same
config.json our engine reads (bench/.device/configs/SIZE.json, written by bench/pack_device.ts) with
random weights, timed on CUDA with events around each forward after warm-up.

fp32 runs with TF32 off (matmul and cuDNN), so both engines do the same float32 arithmetic; fp16 runs
the model cast with .half(). One JSON object per (size, batch, dtype) on stdout; progress on stderr.

    python3 bench/torch_bench.py --configs bench/.device/configs --sizes small,base,large \
        --batches 1,32 --dtypes fp32,fp16 --image 224 --runs 20 --warmup 5
"""
import argparse
import json
import math
import os
import sys
import time


def log(line):
    print(f"[torch] {line}", file=sys.stderr, flush=True)


def stats(times):
    s = sorted(times)
    n = len(s)
    median = s[(n - 1) // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    p90 = s[min(n - 1, math.ceil(0.9 * n) - 1)]  # nearest rank, as bench/measure.ts
    return {"medianMs": median, "p90Ms": p90, "minMs": s[0], "meanMs": sum(s) / n, "timesMs": times}


def bench_one(torch, model_cls, config_cls, config_json, size_name, batch, dtype, image, warmup, runs):
    config = config_cls(**config_json)
    try:
        config._attn_implementation = "sdpa"
    except Exception:  # older/newer transformers spell it differently; keep its default
        pass
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16}[dtype]
    with torch.device("cuda"):
        model = model_cls(config)
    model = model.to(dtype=torch_dtype).eval()
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = (torch.rand((batch, config.num_channels, image, image), generator=gen, device="cuda") * 4 - 2).to(torch_dtype)

    def forward():
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = model(pixel_values=x)
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end), out

    with torch.inference_mode():
        t0 = time.perf_counter()
        _, out = forward()
        torch.cuda.synchronize()
        first = (time.perf_counter() - t0) * 1000
        finite = bool(torch.isfinite(out.last_hidden_state).all().item() and torch.isfinite(out.pooler_output).all().item())
        for _ in range(max(0, warmup - 1)):
            forward()
        times = [forward()[0] for _ in range(runs)]
    timed = stats(times)
    record = {
        "engine": "pytorch",
        "model": f"random:{size_name}",
        "dtype": dtype,
        "size": image,
        "batch": batch,
        "warmup": warmup,
        "runs": runs,
        "firstRunMs": first,
        **timed,
        "imagesPerSecond": batch * 1000 / timed["medianMs"],
        "timedTo": "CUDA events around model(pixel_values), then torch.cuda.synchronize()",
        "outputsFinite": finite,
        "attnImplementation": getattr(model.config, "_attn_implementation", "unknown"),
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
        "gpu": torch.cuda.get_device_name(),
        "peakBytes": torch.cuda.max_memory_allocated(),
    }
    del model, out, x
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return record


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default=os.path.join(os.path.dirname(__file__), ".device", "configs"))
    p.add_argument("--sizes", default="small,base,large")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--dtypes", default="fp32,fp16")
    p.add_argument("--image", type=int, default=224)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()

    try:
        import torch
        import transformers
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
    except ImportError as e:
        print(json.dumps({"engine": "pytorch", "skipped": f"import failed: {e}"}))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"engine": "pytorch", "skipped": "torch.cuda.is_available() is False"}))
        return 0
    # float32 means float32: no TF32 in matmuls or convolutions (fp16 runs are unaffected).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.cuda.get_device_name()}")

    for size in a.sizes.split(","):
        with open(os.path.join(a.configs, f"{size}.json")) as f:
            config_json = json.load(f)
        for batch in (int(b) for b in a.batches.split(",")):
            for dtype in a.dtypes.split(","):
                try:
                    r = bench_one(torch, Dinov2WithRegistersModel, Dinov2WithRegistersConfig, config_json, size, batch, dtype, a.image, a.warmup, a.runs)
                    r["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda}
                    log(f"{size} batch {batch} {dtype}: median {r['medianMs']:.2f} ms, p90 {r['p90Ms']:.2f} ms, {r['imagesPerSecond']:.1f} images/s")
                except Exception as e:  # an OOM or an API change: record it, go on with the rest
                    r = {"engine": "pytorch", "model": f"random:{size}", "dtype": dtype, "size": a.image, "batch": batch, "error": f"{type(e).__name__}: {e}"}
                    log(f"{size} batch {batch} {dtype}: {r['error']}")
                    torch.cuda.empty_cache()
                print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
