"""The machine's ceilings for the roofline: peak FLOP/s per dtype and memory bandwidth.

Measured on the device the run uses, once per environment (the fingerprint's machine fields:
CPU or GPU model, thread count, torch, CUDA, driver), and cached as JSON under
``$NSCHARACTERIZE_CACHE`` (default ``~/.cache/nscharacterize``), so a run pays for the
measurement once per machine and configuration (about 1-2 s on one CPU thread):

* peak FLOP/s: the best of a few square GEMMs (``torch.mm``) per dtype in use, counted as 2*n^3;
* bandwidth: the best of a few copies of a buffer larger than the last-level cache, counted as
  read plus write (2 x its bytes).

These are achievable ceilings on this software stack, not datasheet numbers. For a trace
imported from a device that is not present, ``datasheet_ceilings(device_name)`` returns the
vendor's datasheet peaks (dense, no sparsity) from ``DATASHEET`` and says so in ``source``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

# Fingerprint fields that change the machine's ceilings (not the config, seed or git commit).
MACHINE_FIELDS = ("platform", "cpu_model", "cpu_count", "threads", "device", "device_name", "torch", "cuda",
                  "driver")
# Ceiling keys that can be measured: each is the name of a torch dtype. torch itself is imported
# only to measure, so reading a trace's datasheet ceilings (import-trace) does not load it.
MEASURABLE = ("float32", "float64", "float16", "bfloat16")
# Recorded dtype names (torch.profiler, lower-cased) -> ceiling keys.
DTYPE_KEYS = {"float": "float32", "double": "float64", "c10::half": "float16", "half": "float16",
              "c10::bfloat16": "bfloat16", "bfloat16": "bfloat16"}


def ceiling_key(dtype_name: str) -> str | None:
    return DTYPE_KEYS.get((dtype_name or "").lower())


def cache_dir() -> Path:
    return Path(os.environ.get("NSCHARACTERIZE_CACHE") or Path.home() / ".cache" / "nscharacterize")


def machine_hash(fp: dict) -> str:
    key = json.dumps({k: fp.get(k) for k in MACHINE_FIELDS}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def measured_ceilings(fp: dict, dtypes: list[str], device: str) -> dict:
    """Ceilings for this machine: from the cache where measured before, else measured now (and
    cached). ``dtypes`` are ceiling keys (float32, float64, float16, bfloat16)."""
    path = cache_dir() / f"ceilings-{machine_hash(fp)}.json"
    cached = _read(path)
    if cached is None or cached.get("device") != device:
        cached = {"source": "measured", "device": device,
                  "device_name": fp.get("device_name") or fp.get("cpu_model"), "threads": fp.get("threads"),
                  "machine": {k: fp.get(k) for k in MACHINE_FIELDS}, "peak_flops": {}, "bandwidth_bytes_s": None}
    changed = False
    for key in dict.fromkeys(["float32"] + [d for d in dtypes if d in MEASURABLE]):
        if key not in cached["peak_flops"]:
            cached["peak_flops"][key] = measure_gemm(device, key)
            changed = True
    if cached.get("bandwidth_bytes_s") is None:
        cached["bandwidth_bytes_s"] = measure_bandwidth(device)
        changed = True
    if changed:
        cached["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write_cache(path, cached)
    return dict(cached, cache_file=str(path))


def measure_gemm(device: str, dtype, budget_s: float = 0.4) -> float:
    """Best FLOP/s of repeated n x n GEMMs within a time budget; ``dtype`` a torch dtype or its
    name (a key of MEASURABLE)."""
    import torch

    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    n = 4096 if device == "cuda" else (512 if dtype in (torch.float32, torch.float64) else 256)
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    return 2.0 * n ** 3 / _best_time(lambda: torch.mm(a, b), device, budget_s)


def measure_bandwidth(device: str, budget_s: float = 0.4) -> float:
    """Best bytes/s (read + write) of copying a buffer larger than the last-level cache."""
    import torch

    numel = (1 << 28) if device == "cuda" else (1 << 24)       # 1 GiB on a GPU, 64 MiB on a CPU
    src = torch.ones(numel, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    return 2.0 * src.numel() * src.element_size() / _best_time(lambda: dst.copy_(src), device, budget_s)


def _best_time(fn, device: str, budget_s: float, min_reps: int = 3) -> float:
    import torch

    from .timing import synchronize

    with torch.no_grad():
        fn()                                 # warm-up: allocation, kernel selection, page faults
        synchronize(device)
        best, spent, reps = float("inf"), 0.0, 0
        while reps < min_reps or spent < budget_s:
            start = time.perf_counter()
            fn()
            synchronize(device)
            t = time.perf_counter() - start
            best, spent, reps = min(best, t), spent + t, reps + 1
            if reps >= 50:
                break
    return best


# ---- datasheet peaks, for imported traces whose device is not present ----------------------------
# Vendor datasheet numbers, dense (no structured sparsity), boost clocks. FLOP/s per dtype as a
# GEMM runs it by default in PyTorch: float32 without TF32 (torch's default for matmul), float16
# and bfloat16 on tensor cores. Bandwidth of the memory in bytes/s. Ordered: first match wins.
_T = 1e12
DATASHEET: list[tuple[str, str, dict, float]] = [
    # (pattern on the device name, label, peak FLOP/s per dtype, bandwidth)
    # NVIDIA Blackwell. Source: NVIDIA DGX B200 / HGX B200 datasheets (8-GPU totals: FP64 296 TF,
    # FP32 600 TF, FP16/BF16 tensor 36 PF with sparsity, HBM3e 64 TB/s), divided by 8, dense = half.
    (r"B200", "NVIDIA B200 (HGX, 180 GB HBM3e)",
     {"float64": 37 * _T, "float32": 75 * _T, "float16": 2250 * _T, "bfloat16": 2250 * _T}, 8.0e12),
    # GH200 Grace Hopper: the H100 SXM's tensor rates with its own memory (NVIDIA GH200 Grace Hopper
    # Superchip data sheet: 96 GB HBM3 at 4 TB/s, or 144 GB HBM3e at 4.9 TB/s). Before the H200,
    # whose name a GH200's contains.
    (r"GH200.*(144G|141G|HBM3e)", "NVIDIA GH200 (144 GB HBM3e)",
     {"float64": 67 * _T, "float32": 67 * _T, "float16": 989 * _T, "bfloat16": 989 * _T}, 4.9e12),
    (r"GH200", "NVIDIA GH200 (96 GB HBM3)",
     {"float64": 67 * _T, "float32": 67 * _T, "float16": 989 * _T, "bfloat16": 989 * _T}, 4.0e12),
    (r"H200", "NVIDIA H200 (SXM, 141 GB HBM3e)",
     {"float64": 67 * _T, "float32": 67 * _T, "float16": 989 * _T, "bfloat16": 989 * _T}, 4.8e12),
    # H800 SXM: the H100 SXM's die, clocks and HBM3 with FP64 cut to 1 TF and NVLink to 400 GB/s
    # (NVIDIA H800 product brief, as compared in Philisun's "NVIDIA H800 vs H100", 2025).
    (r"H800(?!.*PCI)", "NVIDIA H800 SXM5 (80 GB HBM3)",
     {"float64": 1 * _T, "float32": 67 * _T, "float16": 989 * _T, "bfloat16": 989 * _T}, 3.35e12),
    (r"H100.*(NVL)", "NVIDIA H100 NVL (94 GB)",
     {"float64": 60 * _T, "float32": 60 * _T, "float16": 835 * _T, "bfloat16": 835 * _T}, 3.9e12),
    (r"H100.*(PCIe|PCIE)", "NVIDIA H100 PCIe (80 GB)",
     {"float64": 51 * _T, "float32": 51 * _T, "float16": 756 * _T, "bfloat16": 756 * _T}, 2.0e12),
    (r"H100", "NVIDIA H100 SXM5 (80 GB HBM3)",
     {"float64": 67 * _T, "float32": 67 * _T, "float16": 989 * _T, "bfloat16": 989 * _T}, 3.35e12),
    (r"A100.*(PCIE|PCIe).*40|A100.*40GB.*(PCIE|PCIe)|A100-PCIE-40GB", "NVIDIA A100 PCIe (40 GB)",
     {"float64": 19.5 * _T, "float32": 19.5 * _T, "float16": 312 * _T, "bfloat16": 312 * _T}, 1.555e12),
    (r"A100.*(PCIE|PCIe)", "NVIDIA A100 PCIe (80 GB)",
     {"float64": 19.5 * _T, "float32": 19.5 * _T, "float16": 312 * _T, "bfloat16": 312 * _T}, 1.935e12),
    # Meta's traces name A100 SXM4 modules by their board, PG509 (compute 8.0, 108 SMs), with or
    # without "A100"; their memory (datasheet_ceilings' memory_bytes) tells 40 GB from 80 GB.
    (r"(A100|PG509).*40GB", "NVIDIA A100 SXM4 (40 GB)",
     {"float64": 19.5 * _T, "float32": 19.5 * _T, "float16": 312 * _T, "bfloat16": 312 * _T}, 1.555e12),
    (r"A100|PG509", "NVIDIA A100 SXM4 (80 GB)",
     {"float64": 19.5 * _T, "float32": 19.5 * _T, "float16": 312 * _T, "bfloat16": 312 * _T}, 2.039e12),
    (r"V100.*(PCIE|PCIe)", "NVIDIA Tesla V100 PCIe",
     {"float64": 7 * _T, "float32": 14 * _T, "float16": 112 * _T}, 0.9e12),
    (r"V100", "NVIDIA Tesla V100 SXM2",
     {"float64": 7.8 * _T, "float32": 15.7 * _T, "float16": 125 * _T}, 0.9e12),
    # Pascal GP100 (no tensor cores, no bfloat16; float16 at twice the float32 rate). Sources: NVIDIA
    # Tesla P100 data sheet (SXM2: FP64 5.3, FP32 10.6, FP16 21.2 TF; PCIe: 4.7, 9.3, 18.7 TF; CoWoS
    # HBM2 at 732 GB/s, 549 GB/s on the 12 GB PCIe board); NVIDIA's Quadro GP100 announcement
    # (FP64 5.2, FP32 10.3, FP16 20.7 TF, 16 GB HBM2 at up to 720 GB/s). Quadro first: its name
    # holds "P100" too.
    (r"Quadro GP100", "NVIDIA Quadro GP100",
     {"float64": 5.2 * _T, "float32": 10.3 * _T, "float16": 20.7 * _T}, 0.72e12),
    (r"\bP100.*(PCIE|PCIe).*12GB", "NVIDIA Tesla P100 PCIe (12 GB)",
     {"float64": 4.7 * _T, "float32": 9.3 * _T, "float16": 18.7 * _T}, 0.549e12),
    (r"\bP100.*(PCIE|PCIe)", "NVIDIA Tesla P100 PCIe (16 GB)",
     {"float64": 4.7 * _T, "float32": 9.3 * _T, "float16": 18.7 * _T}, 0.732e12),
    (r"\bP100", "NVIDIA Tesla P100 SXM2",
     {"float64": 5.3 * _T, "float32": 10.6 * _T, "float16": 21.2 * _T}, 0.732e12),
    (r"\bT4\b", "NVIDIA Tesla T4",
     {"float64": 0.25 * _T, "float32": 8.1 * _T, "float16": 65 * _T}, 0.32e12),
    (r"\bL4\b", "NVIDIA L4",
     {"float64": 0.49 * _T, "float32": 30.3 * _T, "float16": 121 * _T, "bfloat16": 121 * _T}, 0.3e12),
    (r"L40S", "NVIDIA L40S",
     {"float64": 1.4 * _T, "float32": 91.6 * _T, "float16": 362 * _T, "bfloat16": 362 * _T}, 0.864e12),
    (r"\bA10\b", "NVIDIA A10",
     {"float64": 0.98 * _T, "float32": 31.2 * _T, "float16": 125 * _T, "bfloat16": 125 * _T}, 0.6e12),
    # NVIDIA workstation and consumer GPUs. float16/bfloat16: tensor cores with FP32 accumulation,
    # what a PyTorch half GEMM uses (GeForce parts run it at half the FP16-accumulate rate).
    # Sources: NVIDIA Ada Lovelace architecture whitepaper v1.1, appendix table (RTX 4090: FP32
    # 82.6 TF, FP16/BF16 tensor FP32-accumulate 165.2 TF dense, FP64 1/64 rate, 1008 GB/s); NVIDIA
    # Ampere GA102 whitepaper (RTX 3090: FP32 35.6 TF, FP16/BF16 tensor FP32-accumulate 35.6 TF dense,
    # 936 GB/s; RTX A6000: FP32 38.7 TF, tensor 154.8 TF dense, 768 GB/s); NVIDIA Turing architecture
    # whitepaper, appendix table 1 (RTX 2080 Ti reference board: FP32 13.4 TF, FP16 tensor FP32-accumulate
    # 53.8 TF, 616 GB/s; no bfloat16 on Turing).
    # RTX 4090 D: the 4090's AD102 with 114 of its 128 SMs at the same 2.52 GHz boost and the same
    # 1008 GB/s (NVIDIA's product page: 14,592 CUDA cores); its rates are the 4090's times 114/128.
    (r"RTX 4090 D", "NVIDIA GeForce RTX 4090 D",
     {"float64": 1.15 * _T, "float32": 73.5 * _T, "float16": 147.1 * _T, "bfloat16": 147.1 * _T}, 1.008e12),
    (r"RTX 4090", "NVIDIA GeForce RTX 4090",
     {"float64": 1.29 * _T, "float32": 82.6 * _T, "float16": 165.2 * _T, "bfloat16": 165.2 * _T}, 1.008e12),
    (r"RTX 3090", "NVIDIA GeForce RTX 3090",
     {"float64": 0.556 * _T, "float32": 35.6 * _T, "float16": 35.6 * _T, "bfloat16": 35.6 * _T}, 0.936e12),
    (r"RTX 2080 Ti", "NVIDIA GeForce RTX 2080 Ti",
     {"float64": 0.42 * _T, "float32": 13.4 * _T, "float16": 53.8 * _T}, 0.616e12),
    (r"RTX A6000", "NVIDIA RTX A6000",
     {"float64": 1.2 * _T, "float32": 38.7 * _T, "float16": 154.8 * _T, "bfloat16": 154.8 * _T}, 0.768e12),
    # AMD Instinct. float32 is the matrix-core (MFMA) rate rocBLAS/hipBLASLt reach for FP32 GEMMs.
    # Sources: AMD Instinct MI300X data sheet (FP64 matrix 163.4 TF, FP32 matrix 163.4 TF, FP16/BF16
    # dense 1307.4 TF, 5.3 TB/s HBM3); AMD Instinct MI250X / MI250 data sheets (package: FP64/FP32
    # matrix 95.7 / 90.5 TF, FP16/BF16 383 / 362.1 TF, 3.2 TB/s); AMD Instinct MI210 brochure (FP64/FP32
    # matrix 45.3 TF, FP16/BF16 181 TF, 1.6 TB/s); AMD Instinct MI325X data sheet (the MI300X's 304
    # CUs and rates, 256 GB HBM3E at 6 TB/s). An MI250(X) is two GCDs and each is one device to ROCm
    # and torch: a trace's device is one GCD, half the package's numbers. An MI250 GCD and an MI210
    # cannot be told apart from a trace's properties (UNNAMED_GPUS), and their peaks agree within
    # 0.2%: such a device gets the MI210's numbers under a label that names both.
    (r"MI325X", "AMD Instinct MI325X (256 GB HBM3E)",
     {"float64": 163.4 * _T, "float32": 163.4 * _T, "float16": 1307.4 * _T, "bfloat16": 1307.4 * _T}, 6.0e12),
    (r"MI300X", "AMD Instinct MI300X (192 GB HBM3)",
     {"float64": 163.4 * _T, "float32": 163.4 * _T, "float16": 1307.4 * _T, "bfloat16": 1307.4 * _T}, 5.3e12),
    (r"MI250 GCD or MI210", "AMD Instinct MI250 GCD or MI210 (gfx90a, 104 CUs, 64 GB: the MI210's peaks, "
     "an MI250 GCD's within 0.2%)",
     {"float64": 45.3 * _T, "float32": 45.3 * _T, "float16": 181 * _T, "bfloat16": 181 * _T}, 1.6e12),
    (r"MI250X", "AMD Instinct MI250X (one GCD: half the package)",
     {"float64": 47.85 * _T, "float32": 47.85 * _T, "float16": 191.5 * _T, "bfloat16": 191.5 * _T}, 1.6e12),
    (r"MI250", "AMD Instinct MI250 (one GCD: half the package)",
     {"float64": 45.25 * _T, "float32": 45.25 * _T, "float16": 181.05 * _T, "bfloat16": 181.05 * _T}, 1.6e12),
    (r"MI210", "AMD Instinct MI210 (64 GB HBM2e)",
     {"float64": 45.3 * _T, "float32": 45.3 * _T, "float16": 181 * _T, "bfloat16": 181 * _T}, 1.6e12),
    # Intel Data Center GPU Max (Ponte Vecchio), traced by torch's XPU backend. Sources: Intel's
    # product pages (Max 1550: 128 Xe cores at 1.6 GHz, FP64/FP32 vector 52 TF, BF16/FP16 XMX 839 TF,
    # 128 GB HBM2e at 3.2768 TB/s; Max 1100: 56 Xe cores at 1.55 GHz, FP64/FP32 22.2 TF, 48 GB at
    # 1.2288 TB/s), the Max 1100's XMX rate from the same 4096 BF16 FLOP per Xe core and clock. A Max
    # 1550 is two stacks, and under Level Zero's default FLAT hierarchy each stack is one torch
    # device: a trace's device is one stack, half the package's numbers (as an MI250's GCD).
    (r"GPU Max 1550", "Intel Data Center GPU Max 1550 (one stack: half the package)",
     {"float64": 26.2 * _T, "float32": 26.2 * _T, "float16": 419.5 * _T, "bfloat16": 419.5 * _T}, 1.6384e12),
    (r"GPU Max 1100", "Intel Data Center GPU Max 1100 (48 GB HBM2e)",
     {"float64": 22.2 * _T, "float32": 22.2 * _T, "float16": 355.5 * _T, "bfloat16": 355.5 * _T}, 1.2288e12),
    (r"M40", "NVIDIA Tesla M40 (the reference study's GPU)",
     {"float64": 0.21 * _T, "float32": 7.0 * _T}, 0.288e12),
]


# GPUs that some traces leave unnamed (ROCm under vLLM writes deviceProperties with name "") or
# name only generically (ROCm without the marketing-name table writes "AMD Radeon Graphics", as
# HTA's MI250 trace does), told apart by the properties Kineto does write: (warp size, compute
# capability major and minor as ROCm reports the gfx version, compute units, memory in GiB
# from..to) -> name. An MI250 GCD and an MI210 both read gfx90a, 104 CUs, 64 GiB: one name for the
# two, whose datasheet row names both (DATASHEET). Sources: AMD Instinct MI300X and MI325X data
# sheets (gfx942, 304 CUs, 192 / 256 GB HBM3/HBM3E); MI250X, MI250 and MI210 data sheets (gfx90a;
# 220, 208 and 104 CUs; 128, 128 and 64 GB: a GCD has half the package's CUs and memory).
UNNAMED_GPUS: list[tuple[tuple[int, int, int, int, float, float], str]] = [
    ((64, 9, 4, 304, 185.0, 195.0), "AMD Instinct MI300X"),
    ((64, 9, 4, 304, 250.0, 260.0), "AMD Instinct MI325X"),
    ((64, 9, 0, 110, 60.0, 66.0), "AMD Instinct MI250X"),
    ((64, 9, 0, 104, 60.0, 66.0), "AMD Instinct MI250 GCD or MI210"),
]
# Names that say no part: the properties are asked instead (name_from_properties).
GENERIC_GPU_NAMES = ("", "AMD Radeon Graphics")


def name_from_properties(props: dict) -> str | None:
    """The GPU's name from a trace's ``deviceProperties`` entry when its ``name`` is empty or
    generic (``GENERIC_GPU_NAMES``), where the properties single out one part, or two with the
    same peaks (``UNNAMED_GPUS``); else None."""
    try:
        key = (int(props["warpSize"]), int(props["computeMajor"]), int(props["computeMinor"]), int(props["numSms"]))
        gib = float(props["totalGlobalMem"]) / 2**30
    except (KeyError, TypeError, ValueError):
        return None
    for (warp, major, minor, units, low, high), name in UNNAMED_GPUS:
        if key == (warp, major, minor, units) and low <= gib <= high:
            return name
    return None


# Capacities GPUs are sold with, in GB. A trace's totalGlobalMem (what the driver reports, a few
# percent under the label) is read as the nearest of them where the GPU's name does not say it.
_CAPACITIES_GB = (16, 24, 32, 40, 48, 64, 80, 94, 96, 128, 141, 144, 180, 192, 256, 288)


def datasheet_ceilings(device_name: str, memory_bytes: float | None = None) -> dict | None:
    """Datasheet ceilings for a GPU named as in a trace's ``deviceProperties`` (e.g. "NVIDIA H100
    80GB HBM3"), or None if the table does not know it. ``memory_bytes`` (its ``totalGlobalMem``)
    picks the part where the name does not say its memory ("NVIDIA A100-PG509-200" is a 40 GB
    module, 1.555 TB/s, not the 80 GB one). For an imported trace whose device is not present:
    nothing is measured, and ``source`` says the numbers are the datasheet's."""
    key = device_name or ""
    if memory_bytes and memory_bytes > 0 and not re.search(r"\d\s*GB", key, re.IGNORECASE):
        key += f" {min(_CAPACITIES_GB, key=lambda gb: abs(gb - memory_bytes / 2**30))}GB"
    for pattern, label, peaks, bandwidth in DATASHEET:
        if re.search(pattern, key):
            return {"source": "datasheet", "device": "cuda", "device_name": device_name, "datasheet_entry": label,
                    "peak_flops": dict(peaks), "bandwidth_bytes_s": bandwidth,
                    "note": "datasheet peaks (dense, boost clock), not measured: the device was not present"}
    return None


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("peak_flops"), dict) else None


def write_cache(path: Path, data: dict) -> None:
    """Writes a per-machine cache file (ceilings, calibration) atomically; an unwritable cache is skipped."""
    from nscharacterize.core.fileio import atomic_write
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, default=str)))
    except OSError:
        pass   # an unwritable cache only costs a re-measurement next time
