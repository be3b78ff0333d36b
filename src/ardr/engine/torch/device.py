"""Import torch and resolve ``device=`` strings, with one clear error for each mistake."""

DEVICE_TYPES = ("cpu", "cuda")


def import_torch():
    """torch, or a ValueError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ValueError("backend='torch' needs PyTorch; install it with: pip install 'ardr[torch]'") from None
    return torch


def resolve_device(device=None):
    """A torch.device from None ("cuda" when available, else "cpu"), "cpu", "cuda" or "cuda:N"."""
    torch = import_torch()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        try:
            resolved = torch.device(device)
        except (RuntimeError, ValueError):
            raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    else:
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda:0', got {device!r}")
    if resolved.type not in DEVICE_TYPES:
        raise ValueError(f"device {device!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but this torch has no CUDA device available")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist; {torch.cuda.device_count()} CUDA device(s) found")
    return resolved


def as_tensor(x, device, dtype=None):
    """x (a numpy array or a tensor) on ``device``, without a copy where none is needed."""
    torch = import_torch()
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype or x.dtype)
    return torch.as_tensor(x, device=device, dtype=dtype)


def to_numpy(x):
    """A host numpy array of tensor x (numpy input is returned as it is)."""
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    return x


def synchronize(device):
    """Wait for the device's queued work (timings of asynchronous CUDA stages)."""
    torch = import_torch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
