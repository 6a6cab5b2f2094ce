"""Mixture-of-experts training and serving with expert parallelism: the all-to-all that sends each
token to its experts' ranks and back (DeepEP and DeepSeek's in-house dpsk::ep, MORI, TensorRT-LLM,
pplx-kernels) is communication, and the MoE's local kernels (FP8 casts, SwiGLU, routing, the
permutation into expert order) are in the category of what they compute.

The kernel names are those of DeepSeek's public profile of DeepSeek-V3 training on H800s
(github.com/deepseek-ai/profile-data, train.json at 4496024): before these rules 53.5% of its GPU-busy
time was Other, its all-to-all included, and its rank showed no communication at all. That file has
no licence to copy it here, so the end-to-end test writes a small trace of the same shape: the same
names, ranges and overlap of communication with the expert GEMMs on another stream."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from clirun import printed_dir, run_cli
from kineto_events import event, trace_file

from nscharacterize.taxonomy.classifier import Taxonomy

COMBINE = "void dpsk::ep::internode::combine<false, 8, __nv_bfloat16, 8, 2, 16, 24>(int4*, float*, bool const*)"
DISPATCH = "void dpsk::ep::internode::dispatch<false, 8, false, 8>(int4*, float*, long*, float*)"
GROUPED_GEMM = ("void cutlass::device_kernel<dpsk::grouped_gemm::cuda::m_grouped_fp8_ptp128c::GemmKernel>"
                "(dpsk::grouped_gemm::cuda::m_grouped_fp8_ptp128c::GemmKernel::Params)")
CAST = "void cuda::per_token_cast_to_fp8_with_channels<__nv_bfloat16, 128, false, 128, false>(__nv_bfloat16 const*)"
HOST = 100   # the host process's pid; device events carry the GPU's (1)


@pytest.mark.parametrize("name, category, rule", [
    # DeepSeek-V3 training on H800 (profile-data/train.json), all Other before these rules
    (COMBINE, "communication", "k-expert-all-to-all"),
    (DISPATCH, "communication", "k-expert-all-to-all"),
    ("void dpsk::ep::internode::notify_dispatch<false, 8>(int const*, long*, int, int const*)", "communication",
     "k-expert-all-to-all"),
    ("void dpsk::ep::internode::cached_notify<false>(int, int, int, int, int*, int, int)", "communication",
     "k-expert-all-to-all"),
    ("void dpsk::ep::cuda::get_dispatch_layout<256, 32, 8>(long const*, int*, int*, int*, bool*, int, int)",
     "data_transform", "k-expert-dispatch-layout"),
    (CAST, "elementwise", "k-quantize"),
    ("void cuda::cast_back_impl<__nv_fp8x2_e4m3>(void const*, void*, float const*, int, int, int, int)",
     "elementwise", "k-quantize"),
    ("void cuda::swiglu_forward_backward_with_weight_impl<__nv_bfloat16>(__nv_bfloat16*, __nv_bfloat16*)",
     "elementwise", "k-gated-activation"),
    ("void cuda::reduce_fused_impl<__nv_bfloat16, false, false>(int4 const*, float const*, int const*)",
     "elementwise", "k-elementwise"),
    ("cuda::expand_to_fused_with_scales_impl(int4 const*, int4*, float const*, float*, int const*)",
     "data_transform", "k-moe-permute"),
    ("void cuda::get_fused_mapping<512>(long const*, int*, int*, int*)", "data_transform", "k-moe-routing"),
    ("void cuda::clean_and_count_expert<512>(long const*, int*, int*)", "data_transform", "k-moe-routing"),
    ("rotary_kernel", "elementwise", "k-rotary-embedding"),
    ("_copy_tensor_kernel", "data_movement", "k-movement"),
    (GROUPED_GEMM, "gemm", "k-quantized-gemm"),
    # names from the libraries' sources: DeepEP (legacy and elastic), MORI, TensorRT-LLM, pplx-kernels
    ("void deep_ep::legacy::internode_ll::dispatch<false, 8, 7168>(void*, float*, int*)", "communication",
     "k-expert-all-to-all"),
    ("void deep_ep::legacy::intranode::cached_notify_combine(void**, int*, int, int, int)", "communication",
     "k-expert-all-to-all"),
    ("void deep_ep::legacy::layout::get_dispatch_layout<256, 32, 8>(long const*, int*)", "data_transform",
     "k-expert-dispatch-layout"),
    ("void deep_ep::elastic::combine_reduce_epilogue_impl<8, 128>(__nv_bfloat16*, float const*)", "data_movement",
     "k-expert-local-epilogue"),
    ("void mori::moe::EpDispatchIntraNodeKernel<__hip_bfloat16>(mori::moe::EpDispatchCombineArgs<__hip_bfloat16>)",
     "communication", "k-expert-all-to-all"),
    ("void tensorrt_llm::kernels::moe_comm::moeA2ACombineKernel<8, true>(int const*)", "communication",
     "k-expert-all-to-all"),
    ("void dispatchKernel<10u, true, false>(int*, unsigned long, std::byte*)", "communication", "k-expert-all-to-all"),
    ("void combineKernel<__nv_bfloat16, 8ul, false, true>(__nv_bfloat16*, unsigned long)", "communication",
     "k-expert-all-to-all"),
    # vLLM's reduction of unified attention's segments is part of the attention
    ("reduce_segments", "gemm", "k-serving-attention"),
    # and what must not move: a kernel merely called dispatchKernel, without pplx's template arguments
    ("dispatchKernel", "other", None),
])
def test_expert_parallel_kernels_by_what_they_do(name, category, rule):
    verdict = Taxonomy().classify("kernel", name)
    assert (verdict.category, verdict.rule.id if verdict.rule else None) == (category, rule)


def test_the_all_to_all_is_communication_whichever_op_launched_it():
    tx = Taxonomy()
    for launcher in (("combine(F)",), ("aten::mm",), ("MoELayer", "aten::copy_")):
        assert tx.classify("kernel", COMBINE, launcher).category == "communication"


def _dualpipe_trace(path: Path) -> Path:
    """One step of rank 0 of 64 in DeepSeek's form: the expert GEMMs of one chunk on stream 7 while
    the other chunk's dispatch and combine run on stream 20, under record_function ranges."""
    ev = [event("user_annotation", "ProfilerStep#1", 0, 400, pid=HOST)]
    launches = [  # (range, kernel, stream, kernel start, kernel duration)
        ("dispatch(F)", DISPATCH, 20, 10, 100),
        ("mlp(F)", GROUPED_GEMM, 7, 30, 120),
        ("mlp(F)", CAST, 7, 150, 20),
        ("combine(F)", COMBINE, 20, 140, 160),
        ("mlp(B)", GROUPED_GEMM, 7, 180, 100),
    ]
    for i, (rng, kernel, stream, start, dur) in enumerate(launches):
        host = 5 + 40 * i
        ev += [event("user_annotation", rng, host, 30, pid=HOST, **{"External id": 100 + i}),
               event("cuda_runtime", "cudaLaunchKernel", host + 5, 10, pid=HOST, correlation=1000 + i,
                  **{"External id": 100 + i}),
               event("kernel", kernel, start, dur, tid=stream, stream=stream, correlation=1000 + i,
                  **{"External id": 100 + i})]
    return trace_file(path, ev, distributedInfo={"backend": "nccl", "rank": 0, "world_size": 64},
                      deviceProperties=[{"id": 0, "name": "NVIDIA H800", "totalGlobalMem": 84943110144,
                                         "computeMajor": 9, "computeMinor": 0, "numSms": 132, "warpSize": 32}])


def test_a_dualpipe_step_shows_its_communication_and_overlap(tmp_path):
    trace = _dualpipe_trace(tmp_path / "train.json")
    proc = run_cli("import-trace", str(trace), "--out", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = printed_dir(proc)
    events = pd.read_parquet(run / "events.parquet")
    kernels = events[events["source"] == "kernel"]
    assert "other" not in set(kernels.loc[kernels["gpu_busy_us"] > 0, "category"])
    timings = pd.read_csv(run / "timings.csv")
    row = timings.iloc[0]
    # communication = the union of dispatch [10, 110) and combine [140, 300): 260 us; compute kernels
    # ([30, 170) and [180, 280)) run during 80 + 30 + 100 = 210 us of it
    assert row["rank"] == 0 and row["comm_s"] * 1e6 == pytest.approx(260.0)
    assert row["comm_overlap_s"] * 1e6 == pytest.approx(210.0)
    table = (run / "table.md").read_text()
    assert "| job | 0 | train | 1 |" in table and "| 81% |" in table    # 210 / 260 overlapped
    assert "datasheet peaks of NVIDIA H800 SXM5" in table
