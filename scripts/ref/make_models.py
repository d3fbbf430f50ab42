"""Tiny ONNX models, with onnxruntime reference outputs, for voxide's inference tests.

    python make_models.py [OUT_DIR] [--bench] [--tract]

OUT_DIR defaults to target/models beside the repository root. The files in
crates/voxide-infer/tests/models are this script's output (tests use them, so CI needs no torch;
regenerate with `python make_models.py crates/voxide-infer/tests/models`). Needs torch (CPU is enough),
onnx, onnxruntime and numpy (and `tract` for --tract), e.g. `python3 -m venv target/modelvenv
&& target/modelvenv/bin/pip install torch onnx onnxruntime numpy`. torch's Linux wheel pulls
in about 5 GB of CUDA libraries (only loaded, never used); `import torch` fails without them.
Nothing is fetched at run time: every weight comes from a fixed seed or is written out by hand
below, and two runs with the same package versions give byte-identical files.

For each model NAME it writes:

    OUT_DIR/NAME/model.onnx          opset 17, float32, batch and spatial axes dynamic
    OUT_DIR/NAME/<case>.<tensor>.f32 raw tensors: numpy `.tofile()` of a C-contiguous float32
                                     array, little-endian, no header, row-major (last axis
                                     fastest), i.e. index ((((n*C + c)*D + z)*H + y)*W + x)
                                     for an N,C,D,H,W tensor
    OUT_DIR/NAME/reference.json      model I/O names and symbolic shapes, the SHA-256 of
                                     model.onnx, and per case the input and onnxruntime output
                                     files with their shapes, plus torch-vs-onnxruntime max |diff|

Models (spatial axes are D,H,W = z,y,x; input channel count is 1 throughout):

- unet3d: 3-level 3D U-Net (channels 8/16/32): per level two [Conv3d 3x3x3 -> InstanceNorm3d
  (affine) -> LeakyReLU(0.01)], stride-2 Conv3d down, ConvTranspose3d (k=2, s=2) up, torch.cat
  skips, final 1x1x1 Conv3d to 3 classes. Output `logits` (N,3,D,H,W). D,H,W must be multiples
  of 4.
- unet3d_softmax: the same weights with Softmax over the class axis; output `probs`.
- classifier3d: Conv3d -> ReLU -> MaxPool3d(2) -> Conv3d -> ReLU -> global average pool ->
  Linear: output `logits` (N,2). D,H,W must be even.
- blend_identity: one Conv3d 3x3x3, zero padding, whose kernel is 1 at the centre (0 elsewhere)
  for channel 0 and 2 at the centre for channel 1, biases 0.5 and -1: output (N,2,D,H,W) =
  (x + 0.5, 2x - 1) exactly, at every voxel, whatever the patch tiling: any sliding-window
  stitching error (offset, weight normalisation, border) shows as a non-zero difference.
- blend_mean: one Conv3d 3x3x3 mean filter (all weights 1/27, bias 0), zero padding: output =
  the 27-neighbour mean of x with zeros outside the input; a patch-wise run agrees with the
  whole-volume one only at least 1 voxel away from every patch border that is not a volume
  border, which makes patch-border handling visible.

--bench times onnxruntime (CPU, 1 and 2 intra-op threads) on unet3d over a 1x1x96^3 input and
writes OUT_DIR/timings.json. --tract also loads every model with the `tract` Python package (the
same engine as the tract-onnx crate) and reports its max |diff| against onnxruntime.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

SEED = 20240606
OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


class ConvNormAct(nn.Sequential):
    def __init__(self, cin, cout, stride=1):
        super().__init__(
            nn.Conv3d(cin, cout, 3, stride=stride, padding=1),
            nn.InstanceNorm3d(cout, affine=True, eps=1e-5),
            nn.LeakyReLU(0.01),
        )


class Stage(nn.Sequential):
    def __init__(self, cin, cout, stride):
        super().__init__(ConvNormAct(cin, cout, stride), ConvNormAct(cout, cout, 1))


class UNet3d(nn.Module):
    def __init__(self, widths=(8, 16, 32), classes=3, softmax=False):
        super().__init__()
        self.softmax = softmax
        self.enc = nn.ModuleList()
        cin = 1
        for i, w in enumerate(widths):
            self.enc.append(Stage(cin, w, 1 if i == 0 else 2))
            cin = w
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w_hi, w_lo in zip(reversed(widths[:-1]), reversed(widths[1:])):
            self.up.append(nn.ConvTranspose3d(w_lo, w_hi, 2, stride=2))
            self.dec.append(Stage(2 * w_hi, w_hi, 1))
        self.head = nn.Conv3d(widths[0], classes, 1)

    def forward(self, x):
        skips = []
        for stage in self.enc:
            x = stage(x)
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        x = self.head(x)
        return torch.softmax(x, dim=1) if self.softmax else x


class Classifier3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
            nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1),
        )
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def randomise_norms(model, gen):
    """Non-trivial affine parameters, so that a dropped scale or shift shows."""
    for m in model.modules():
        if isinstance(m, nn.InstanceNorm3d):
            with torch.no_grad():
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))


def blend_identity():
    conv = nn.Conv3d(1, 2, 3, padding=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1, 1] = 1.0
        conv.weight[1, 0, 1, 1, 1] = 2.0
        conv.bias.copy_(torch.tensor([0.5, -1.0]))
    return conv


def blend_mean():
    conv = nn.Conv3d(1, 1, 3, padding=1)
    with torch.no_grad():
        conv.weight.fill_(1.0 / 27.0)
        conv.bias.zero_()
    return conv


# name -> (builder, output name, dynamic axes of the input, reference cases: name -> shape)
SPATIAL = {0: "N", 2: "D", 3: "H", 4: "W"}
MODELS = {
    "unet3d": (lambda g: UNet3d(), "logits", SPATIAL,
               {"c32": (1, 1, 32, 32, 32), "aniso": (1, 1, 16, 24, 40)}),
    "unet3d_softmax": (lambda g: UNet3d(softmax=True), "probs", SPATIAL,
                       {"c32": (1, 1, 32, 32, 32)}),
    "classifier3d": (lambda g: Classifier3d(), "logits", SPATIAL,
                     {"b2": (2, 1, 24, 32, 40)}),
    "blend_identity": (lambda g: blend_identity(), "output", SPATIAL,
                       {"odd": (1, 1, 19, 23, 29)}),
    "blend_mean": (lambda g: blend_mean(), "output", SPATIAL,
                   {"odd": (1, 1, 19, 23, 29)}),
}


def build(name):
    builder = MODELS[name][0]
    torch.manual_seed(SEED)  # default initialisers draw from the global generator
    gen = torch.Generator().manual_seed(SEED + 1)
    if name == "unet3d_softmax":
        model = UNet3d(softmax=True)
        model.load_state_dict(build("unet3d").state_dict())
    else:
        model = builder(gen)
        randomise_norms(model, gen)
    return model.eval()


def export(model, path, out_name, dyn, example_shape):
    example = torch.zeros(example_shape)
    with torch.no_grad():
        rank_out = model(example).dim()
    # Dense outputs share the input's symbolic axes; a classification head only the batch.
    out_dyn = dict(dyn) if rank_out == 5 else {0: "N"}
    kwargs = dict(input_names=["input"], output_names=[out_name], opset_version=OPSET,
                  dynamic_axes={"input": dyn, out_name: out_dyn})
    # The TorchScript exporter writes InstanceNormalization, ConvTranspose, ... as single ONNX
    # nodes and names the dynamic axes as asked.
    torch.onnx.export(model, (example,), path, dynamo=False, **kwargs)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def ort_session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def shape_of(value_info):
    return [d.dim_param if d.dim_param else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def write_raw(path, arr):
    np.ascontiguousarray(arr, dtype="<f4").tofile(path)


def make(out_dir, name, check_tract=False):
    _, out_name, dyn, cases = MODELS[name]
    model = build(name)
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, "model.onnx")
    first_shape = next(iter(cases.values()))
    m = export(model, onnx_path, out_name, dyn, first_shape)
    with open(onnx_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    sess = ort_session(onnx_path, 1)
    layout = ("raw little-endian float32, C order (row-major, last axis fastest), no header; "
              "numpy: np.fromfile(file, '<f4').reshape(shape)")
    ref = {
        "model": "model.onnx",
        "sha256": sha,
        "bytes": os.path.getsize(onnx_path),
        "opset": OPSET,
        "ops": sorted({n.op_type for n in m.graph.node}),
        "inputs": [{"name": i.name, "shape": shape_of(i), "dtype": "float32"} for i in m.graph.input],
        "outputs": [{"name": o.name, "shape": shape_of(o), "dtype": "float32"} for o in m.graph.output],
        "layout": layout,
        "seed": SEED,
        "generator": {"torch": torch.__version__, "onnx": onnx.__version__,
                      "onnxruntime": ort.__version__, "numpy": np.__version__},
        "cases": [],
    }
    rng = np.random.default_rng(SEED)
    for case, shape in cases.items():
        x = rng.standard_normal(shape, dtype=np.float32)
        (y,) = sess.run([out_name], {"input": x})
        with torch.no_grad():
            y_torch = model(torch.from_numpy(x)).numpy()
        in_file, out_file = f"{case}.input.f32", f"{case}.{out_name}.f32"
        write_raw(os.path.join(d, in_file), x)
        write_raw(os.path.join(d, out_file), y)
        entry = {
            "name": case,
            "inputs": {"input": {"file": in_file, "shape": list(x.shape)}},
            "outputs": {out_name: {"file": out_file, "shape": list(y.shape)}},
            "torch_vs_onnxruntime_max_abs_diff": float(np.abs(y - y_torch).max()),
        }
        if name == "blend_identity":
            analytic = np.concatenate([x + 0.5, 2 * x - 1], axis=1)
            entry["analytic_max_abs_diff"] = float(np.abs(y - analytic).max())
        if check_tract:
            entry["tract_vs_onnxruntime_max_abs_diff"] = tract_diff(onnx_path, x, y)
        ref["cases"].append(entry)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    return ref


def tract_diff(onnx_path, x, y):
    import tract

    model = tract.onnx().load(onnx_path)
    model.set_input_fact(0, ",".join(str(s) for s in x.shape) + ",f32")
    runnable = model.into_model().into_runnable()
    (out,) = runnable.run([x])
    return float(np.abs(out.to_numpy() - y).max())


def bench(out_dir, check_tract=False):
    path = os.path.join(out_dir, "unet3d", "model.onnx")
    x = np.random.default_rng(SEED).standard_normal((1, 1, 96, 96, 96), dtype=np.float32)
    res = {"model": "unet3d", "input": [1, 1, 96, 96, 96], "onnxruntime": ort.__version__}
    for threads in (1, 2):
        sess = ort_session(path, threads)
        sess.run(None, {"input": x})  # warm-up
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            sess.run(None, {"input": x})
            times.append(time.perf_counter() - t0)
        res[f"onnxruntime_{threads}_thread_s"] = {"min": round(min(times), 4),
                                                  "median": round(sorted(times)[2], 4)}
    if check_tract:
        import tract

        model = tract.onnx().load(path)
        model.set_input_fact(0, "1,1,96,96,96,f32")
        runnable = model.into_model().into_runnable()
        runnable.run([x])
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            runnable.run([x])
            times.append(time.perf_counter() - t0)
        res["tract_python_s"] = {"min": round(min(times), 4), "median": round(sorted(times)[1], 4)}
    with open(os.path.join(out_dir, "timings.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    return res


def main(argv):
    flags = {a for a in argv if a.startswith("--")}
    args = [a for a in argv if not a.startswith("--")]
    out_dir = args[0] if args else os.path.join(HERE, "..", "..", "target", "models")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name in MODELS:
        ref = make(out_dir, name, "--tract" in flags)
        print(name, ref["bytes"], "bytes", ref["ops"],
              [{k: v for k, v in c.items() if k.endswith("diff")} for c in ref["cases"]])
    if "--bench" in flags:
        print(json.dumps(bench(out_dir, "--tract" in flags), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
