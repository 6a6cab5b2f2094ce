"""import-trace on real traces of LLM-serving stacks (SGLang and vLLM on MI300X, vLLM on B200) from
AMD's TraceLens test data, kept in tests/fixtures/external-traces/ (README there): their kernels
(RMSNorm, gated activations, KV-cache writes, quantization, MoE routing, custom all-reduce) land in
the category of what they compute, never in Other or in a category their template arguments
suggest; an unnamed GPU is named from its properties; files of other profilers are told apart."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from clirun import ROOT, TESTS, printed_dir, run_cli

from nscharacterize.profiler.ceilings import name_from_properties
from nscharacterize.taxonomy.classifier import Taxonomy

FIXTURES = TESTS / "fixtures" / "external-traces"
SGLANG = FIXTURES / "T16_tracelens_sglang_decode"   # SGLang, Qwen3-8B decode, MI300X, named GPU
VLLM = FIXTURES / "T17_tracelens_vllm_decode"       # vLLM full-graph decode, MI300X, deviceProperties name ""


def imported(tmp_path: Path, folder: Path) -> tuple[Path, pd.DataFrame, dict]:
    proc = run_cli("import-trace", str(folder), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = printed_dir(proc)
    return run, pd.read_parquet(run / "events.parquet"), json.loads((run / "manifest.json").read_text())


def busy_share(events: pd.DataFrame) -> pd.Series:
    kernels = events[events["source"] == "kernel"]
    busy = kernels.groupby("category", observed=True)["gpu_busy_us"].sum()
    return 100 * busy / busy.sum()


# Kernel names as these traces (and TraceLens's B200 and xDiT traces) write them, with the category
# of what each computes and the rule that must say so.
@pytest.mark.parametrize("name, category, rule", [
    ("void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*, unsigned long, "
     "unsigned int**, unsigned long, unsigned long)", "communication", "k-custom-allreduce"),
    ("std::enable_if<(((8)>(0)))&&vllm::_typeConvert<c10::BFloat16>::exists, void>::type "
     "vllm::fused_add_rms_norm_kernel<c10::BFloat16, 8>(c10::BFloat16*, long, c10::BFloat16*)", "elementwise", "k-norm"),
    ("_ZN5aiter24add_rmsnorm_quant_kernelIDF16bDF16bLi256ELi16ELb1ELb0ELb1ELi1EEEvPT0_PT_PfS4_S4_S4_diiiiiiib",
     "elementwise", "k-norm"),
    ("_ZN7ck_tile6kentryILi1ENS_12Rmsnorm2dFwdINS_27Rmsnorm2dFwdPipelineOnePassINS_27Rmsnorm2dFwdPipelineProblem",
     "elementwise", "k-norm"),
    ("_ZN7sgl_hip10activation18act_and_mul_kernelI14__hip_bfloat16TnPFT_RKS3_EXadL_Z4siluIS2_ES3_S5_EEEEvPS3_PS4_i",
     "elementwise", "k-gated-activation"),
    ("void vllm::rotary_embedding_kernel<c10::BFloat16, true>(long const*, c10::BFloat16*, c10::BFloat16*)",
     "elementwise", "k-rotary-embedding"),
    ("void vllm::reshape_and_cache_flash_kernel<__hip_bfloat16, __hip_bfloat16, (vllm::Fp8KVCacheDataType)0>(x)",
     "data_movement", "k-kv-cache-write"),
    ("void (anonymous namespace)::store_kvcache<2048l, 4, false, long>((anonymous namespace)::StoreKVCacheParams)",
     "data_movement", "k-kv-cache-write"),
    ("void tensorrt_llm::kernels::quantize_with_block_size<(tensorrt_llm::BlockScaleQuantizationType)2, "
     "__nv_bfloat16, 16, false>(int, int, int, int, __nv_bfloat16 const*)", "elementwise", "k-quantize"),
    ("void vllm::scaled_fp8_quant_kernel_strided<c10::BFloat16, c10::Float8_e4m3fn>(c10::Float8_e4m3fn*)",
     "elementwise", "k-quantize"),
    ("void moe::dev::routing::routingIndicesHistogramKernel<moe::dev::routing::routingRenormalize::KernelParams"
     "<__nv_bfloat16, __nv_bfloat16, 8, true> >(x)", "data_transform", "k-moe-routing"),
    ("_combined_routing_compute", "data_transform", "k-moe-routing"),
    ("void moe::dev::finalize::finalizeKernelVecLoad<moe::dev::finalize::KernelParams<cutlass::bfloat16_t, "
     "cutlass::bfloat16_t, 4, true> >(x)", "data_movement", "k-moe-combine"),
    ("sage_fwd", "gemm", "k-serving-attention"),
    ("kernel_unified_attention_3d", "gemm", "k-serving-attention"),
    ("fmhaSm100aKernel_QkvE4m3OBfloat16H64PagedKvCausalP16VarSeqQ128Kv128PersistentContext", "gemm",
     "k-serving-attention"),
    ("void at::cuda::(anonymous namespace)::spin_kernel(long)", "other", "k-sleep"),
    ("void (anonymous namespace)::resolve_future_token_ids_kernel<long>(long*, long const*, unsigned long)",
     "data_transform", "k-serving-step-indices"),
    ("void (anonymous namespace)::clamp_position_kernel<long>(long*, long const*, unsigned long)", "data_transform",
     "k-serving-step-indices"),
    ("create_flashinfer_kv_indices_triton", "data_transform", "k-serving-step-indices"),
    # names from vLLM's sources (its Triton fused-MoE GEMM and FP8 group quantization), no trace here
    ("fused_moe_kernel", "gemm", "k-quantized-gemm"), ("_w8a8_block_fp8_matmul", "gemm", "k-quantized-gemm"),
    ("per_token_group_quant_fp8", "elementwise", "k-quantize"),
    # a product whose name also says quant is a GEMM (a constructed name in cuBLASLt's style)
    ("sm90_xmma_gemm_e4m3_quant_tn", "gemm", "k-cublaslt"),
    # the broad rules still take what is theirs
    ("matmul_k(float*, float*, float*, int, int, int)", "gemm", "k-gemm"),   # a user's own CUDA matmul (T4)
    ("void cutlass::Kernel<cutlass_70_wmma_tensorop_f16_s161616gemm_f16_32x32_64x2_tn_align8>(x)", "gemm",
     "k-cutlass"),
    ("void cudnn::detail::implicit_convolve_sgemm<float, float, 128, 5, 5, 3, 3, 3, 1, true, false, true>(x)",
     "conv", "k-conv"),
])
def test_serving_kernels_by_what_they_compute(name, category, rule):
    verdict = Taxonomy().classify("kernel", name)
    assert (verdict.category, verdict.rule.id if verdict.rule else None) == (category, rule)


def test_custom_all_reduce_ops_and_their_kernels_are_communication():
    """vLLM on B200 all-reduces through torch's symmetric memory, not NCCL: 18% of the trace's busy
    time read as element-wise (its kernel is a reduce_kernel) and its ops as Other."""
    tx = Taxonomy()
    for op in ("symm_mem::multimem_all_reduce_", "vllm::all_reduce", "_C_custom_ar::all_reduce"):
        assert tx.classify("op", op).category == "communication"
    kernel = "void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*)"
    assert tx.classify("kernel", kernel, ("vllm::all_reduce", "symm_mem::multimem_all_reduce_")).category == "communication"


@pytest.mark.parametrize("op, category", [
    ("vllm::unified_attention_with_output", "gemm"), ("_C_cache_ops::reshape_and_cache_flash", "data_movement"),
    ("vllm::unified_kv_cache_update", "data_movement"), ("_C::fused_add_rms_norm", "elementwise"),
    ("_C::rotary_embedding", "elementwise"), ("sgl_kernel::silu_and_mul", "elementwise"),
    ("_C::static_scaled_fp8_quant", "elementwise"),
    ("vllm::moe_forward", "other"),   # groups routing, expert GEMMs and combine: no rule of its own
    ("aiter::gemm_a8w8_blockscale_quant", "other"),   # a product with quantized operands, not a quantization
])
def test_serving_stack_ops(op, category):
    assert Taxonomy().classify("op", op).category == category


def test_a_grouping_op_leaves_its_kernels_their_own_categories():
    tx = Taxonomy()
    launched = ("vllm::moe_forward",)
    assert tx.classify("kernel", "_combined_routing_compute", launched).category == "data_transform"
    assert tx.classify("kernel", "fused_moe_kernel", launched).category == "gemm"
    # a KV-cache write inside the attention op is a copy, whatever launched it
    assert tx.classify("kernel", "void vllm::reshape_and_cache_flash_kernel<x>(x)",
                       ("vllm::unified_attention_with_output",)).category == "data_movement"


def test_sglang_decode_leaves_nothing_in_other(tmp_path):
    """Before these rules, 12% of this trace's busy time was Other (aiter's fused RMSNorm, SGLang's
    SiLU-and-mul, the KV-cache store, its step's index bookkeeping) and rotary embedding read as an
    embedding lookup."""
    _run, events, manifest = imported(tmp_path, SGLANG)
    share = busy_share(events)
    assert share.get("other", 0.0) == 0.0
    assert share["gemm"] > 70 and share["elementwise"] > 10
    kernels = events[events["source"] == "kernel"]
    cache = kernels[kernels["name"].str.contains("store_kvcache")]
    assert len(cache) and (cache["category"] == "data_movement").all()
    assert not kernels[kernels["name"].str.contains("rotary_embedding")]["category"].eq("embedding").any()
    assert manifest["fingerprint"]["device_name"] == "AMD Instinct MI300X"
    assert manifest["fingerprint"]["hip_runtime"] is not None   # a ROCm trace: HIP's versions, not CUDA's


def test_an_unnamed_gpu_is_named_from_its_properties_and_the_note_says_so(tmp_path):
    run, events, manifest = imported(tmp_path, VLLM)
    assert manifest["fingerprint"]["device_name"] == "AMD Instinct MI300X"
    assert manifest["ceilings"]["datasheet_entry"].startswith("AMD Instinct MI300X")
    notes = [n for entry in manifest["imported"] for n in entry["notes"]]
    assert any("taken as AMD Instinct MI300X from its properties" in n and "304 compute units" in n for n in notes)
    assert "taken as AMD Instinct MI300X" in (run / "table.md").read_text()
    assert busy_share(events).get("other", 0.0) < 1.0


@pytest.mark.parametrize("props, name", [
    ({"name": "", "warpSize": 64, "computeMajor": 9, "computeMinor": 4, "numSms": 304,
      "totalGlobalMem": 206141652992}, "AMD Instinct MI300X"),
    ({"name": "", "warpSize": 64, "computeMajor": 9, "computeMinor": 4, "numSms": 304,
      "totalGlobalMem": 256 * 2**30}, "AMD Instinct MI325X"),
    # an MI250 GCD and an MI210 share these properties (and their peaks): a name for both; an MI250X GCD has 110 CUs
    ({"name": "", "warpSize": 64, "computeMajor": 9, "computeMinor": 0, "numSms": 104,
      "totalGlobalMem": 68702699520}, "AMD Instinct MI250 GCD or MI210"),
    ({"name": "", "warpSize": 64, "computeMajor": 9, "computeMinor": 0, "numSms": 110,
      "totalGlobalMem": 68702699520}, "AMD Instinct MI250X"),
    # a consumer Radeon (wave32, RDNA) is no Instinct part, whatever its memory
    ({"name": "AMD Radeon Graphics", "warpSize": 32, "computeMajor": 11, "computeMinor": 0, "numSms": 48,
      "totalGlobalMem": 64 * 2**30}, None),
    ({"name": "", "warpSize": 64}, None),
    ({"name": "", "warpSize": "?", "computeMajor": 9, "computeMinor": 4, "numSms": 304, "totalGlobalMem": 1}, None),
])
def test_name_from_properties(props, name):
    assert name_from_properties(props) == name


@pytest.mark.parametrize("content, says", [
    (TESTS / "fixtures" / "other-formats" / "benchmark_simple_add_et.json.gz", "PyTorch execution trace"),
    (b'{"rocprofiler-sdk-tool": [{"metadata": {"pid": 908}}]}', "rocprofiler-sdk's JSON output"),
    (b'{"workload_graph": [{"Id": 216, "Name": "aten::flatten_dense_tensors(0)", "runtime": 318}]}',
     "a Chakra execution trace"),
    (b'{"aten::_softmax": ["void softmax_warp_forward<float>(float*)"]}', "a JSON object without a traceEvents array (its keys: aten::_softmax)"),
])
def test_files_of_other_profilers_are_named_in_one_line(tmp_path, content, says):
    path = tmp_path / "trace.json.gz" if isinstance(content, Path) else tmp_path / "trace.json"
    path.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
    proc = run_cli("import-trace", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr and str(path) in proc.stderr


def test_a_folder_with_an_execution_trace_beside_the_trace_reads_the_trace(tmp_path):
    """HTA's critical path analysis wants the execution trace in the folder of the Kineto trace:
    import-trace of that folder refused both (exit 2); it reads the trace and says what it left
    out. Named on its own, or alone in its folder, the execution trace is still refused."""
    folder = tmp_path / "job"
    folder.mkdir()
    for name in ("benchmark_simple_add_et.json.gz", "benchmark_simple_add_trace.json.gz"):
        shutil.copy(TESTS / "fixtures" / "other-formats" / name, folder / name)
    proc = run_cli("import-trace", str(folder), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = Path(proc.stdout.split()[-1])
    (imported,) = json.loads((run / "manifest.json").read_text())["imported"]
    assert imported["component"] == "benchmark_simple_add_trace"
    note = "benchmark_simple_add_et.json.gz, beside it in its folder, left out: a PyTorch execution trace"
    assert any(n.startswith(note) for n in imported["notes"]), imported["notes"]
    assert note in (run / "table.md").read_text()

    # a script's own JSON beside its traces (a config, metrics) is no trace either
    (folder / "hparams.json").write_text('{"lr": 0.001, "batch": 64}')
    proc = run_cli("import-trace", str(folder), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    (imported,) = json.loads((Path(proc.stdout.split()[-1]) / "manifest.json").read_text())["imported"]
    assert "hparams.json, beside it in its folder, left out: a JSON object without a traceEvents array (its keys: "\
        "batch, lr)" in imported["notes"], imported["notes"]
    # a file that looks like a trace but is broken still stops the import: it was meant to be read
    (folder / "cut.json").write_text('{"traceEvents": [{"ph": "X", "name": "aten::mm"')
    cut = run_cli("import-trace", str(folder), "--out", str(tmp_path / "out"))
    assert cut.returncode == 2 and "cut.json" in cut.stderr and "invalid JSON" in cut.stderr, cut.stderr
    (folder / "cut.json").unlink()
    (folder / "hparams.json").unlink()

    named = run_cli("import-trace", str(folder / "benchmark_simple_add_et.json.gz"), "--out", str(tmp_path / "out"))
    assert named.returncode == 2 and "PyTorch execution trace" in named.stderr
    (folder / "benchmark_simple_add_trace.json.gz").unlink()
    alone = run_cli("import-trace", str(folder), "--out", str(tmp_path / "out"))
    assert alone.returncode == 2 and len(alone.stderr.strip().splitlines()) == 1, alone.stderr
    assert "no torch.profiler trace with events in it, only benchmark_simple_add_et.json.gz" in alone.stderr


# What tensorboard_trace_handler wrote for a profiler that stopped before its active steps (a
# student's ResNet-18 run, ChrisVN123/mlops_testmappe): Kineto's file with metadata and no event.
EMPTY_KINETO = {"schemaVersion": 1, "traceName": "./log/resnet18/host_93917.1736417948403527000.pt.trace.json",
                "traceEvents": [{"name": "thread_name", "ph": "M", "ts": 0, "pid": 93917, "tid": 3961819,
                                 "args": {"name": "thread 3961819 ()"}},
                                {"name": "Record Window End", "ph": "i", "s": "g", "pid": "", "tid": "",
                                 "ts": 1736417948403182}]}


def test_a_trace_that_recorded_nothing_is_left_out_of_its_folder_and_refused_alone(tmp_path):
    """An empty profiling window beside the job's real traces stopped the whole folder (exit 2,
    "is it a torch.profiler trace?"); it is left out and said, and refused with the fix when named."""
    folder = tmp_path / "log"
    folder.mkdir()
    empty = folder / "host_93917.1736417948403527000.pt.trace.json"
    empty.write_text(json.dumps(EMPTY_KINETO))
    shutil.copy(TESTS / "fixtures" / "other-formats" / "benchmark_simple_add_trace.json.gz", folder)
    proc = run_cli("import-trace", str(folder), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = Path(proc.stdout.split()[-1])
    (imported,) = json.loads((run / "manifest.json").read_text())["imported"]
    note = f"{empty.name}, beside it in its folder, left out: a torch.profiler trace that recorded no ops"
    assert any(n.startswith(note) for n in imported["notes"]), imported["notes"]
    assert note in (run / "table.md").read_text()

    alone = run_cli("import-trace", str(empty), "--out", str(tmp_path / "out"))
    assert alone.returncode == 2 and len(alone.stderr.strip().splitlines()) == 1, alone.stderr
    assert f"{empty}: traceEvents: a torch.profiler trace that recorded no ops" in alone.stderr
    assert "prof.step()" in alone.stderr and "Traceback" not in alone.stderr
    # another tool's JSON array of records is no trace: the old question stays, and a folder leaves it out too
    (folder / "predictions.json").write_text(json.dumps([{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]))
    proc = run_cli("import-trace", str(folder), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    (imported,) = json.loads((Path(proc.stdout.split()[-1]) / "manifest.json").read_text())["imported"]
    assert any(n.startswith("predictions.json, beside it in its folder, left out: no host ops") for n in imported["notes"])
    named = run_cli("import-trace", str(folder / "predictions.json"), "--out", str(tmp_path / "out"))
    assert named.returncode == 2 and "is it a torch.profiler trace?" in named.stderr, named.stderr


def test_python_dash_m_runs_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "nscharacterize", "import-trace", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: nscharacterize import-trace")
