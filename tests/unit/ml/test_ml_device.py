"""Device selection: a missing GPU degrades to the CPU with a warning, never a crash."""

from __future__ import annotations

import logging

import pytest
import torch

from inspector.ml.device import device_name, inference_context, select_device

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_auto_picks_cuda_exactly_when_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    assert select_device().type == expected


def test_cpu_is_always_cpu() -> None:
    assert select_device(" CPU ") == torch.device("cpu")


@needs_no_gpu
@pytest.mark.parametrize("request_", ["cuda", "cuda:1"])
def test_cuda_without_gpu_falls_back_with_a_warning(
    request_: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="inspector.ml.device"):
        assert select_device(request_) == torch.device("cpu")
    assert "CUDA is not available" in caplog.text


def test_missing_gpu_index_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="inspector.ml.device"):
        assert select_device("cuda:99") == torch.device("cpu")
    assert "cuda:99" in caplog.text


@pytest.mark.parametrize("request_", ["gpu", "cuda:x", "", "mps0"])
def test_unknown_requests_are_refused(request_: str) -> None:
    with pytest.raises(ValueError, match="use 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        select_device(request_)


def test_cpu_name_says_how_many_threads() -> None:
    assert device_name(torch.device("cpu")) == f"CPU ({torch.get_num_threads()} threads)"


def test_inference_context_disables_autograd_and_keeps_float32_on_cpu() -> None:
    weight = torch.ones(3, 3, requires_grad=True)
    with inference_context(torch.device("cpu")):
        out = torch.ones(2, 3) @ weight
    assert not out.requires_grad
    assert out.dtype == torch.float32
