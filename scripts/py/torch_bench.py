"""PyTorch baseline for MiniFASNet: the same weights run by PyTorch (CPU, eager mode).

The Silent-Face `.pth` files are not mirrored here, so the network is rebuilt from the ONNX
file that holds the same weights: every node becomes the torch.nn.functional call that the
reference nn.Module makes (conv2d, prelu, batch_norm, adaptive_avg_pool2d, ...), run with
torch.no_grad() on one intra-op thread.

Usage: python3 torch_bench.py ITERATIONS MODEL.onnx=INPUT.f32 ...
INPUT.f32 is the 1x3x80x80 input as little-endian float32 (what the Rust engine feeds).
Prints JSON: {model name: {"ms": median, "logits": [...]}}.
"""
import json
import statistics
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


class OnnxAsTorch(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        graph = onnx.load(path).graph
        self.weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
        self.nodes = list(graph.node)
        self.input = graph.input[0].name
        self.output = graph.output[0].name

    @staticmethod
    def attrs(node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def forward(self, x):
        env = dict(self.weights)
        env[self.input] = x
        for node in self.nodes:
            a = self.attrs(node)
            args = [env[name] if name else None for name in node.input]
            op = node.op_type
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                y = F.conv2d(args[0], args[1], args[2] if len(args) > 2 else None,
                             stride=a.get("strides", [1, 1]), padding=(pads[0], pads[1]),
                             dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
            elif op == "PRelu":
                y = F.prelu(args[0], args[1].reshape(-1))
            elif op == "BatchNormalization":
                y = F.batch_norm(args[0], args[3], args[4], args[1], args[2], False, 0.0, a.get("epsilon", 1e-5))
            elif op == "Add":
                y = args[0] + args[1]
            elif op == "Mul":
                y = args[0] * args[1]
            elif op == "MatMul":
                y = torch.matmul(args[0], args[1])
            elif op == "Flatten":
                y = torch.flatten(args[0], a.get("axis", 1))
            elif op == "GlobalAveragePool":
                y = F.adaptive_avg_pool2d(args[0], 1)
            elif op == "Relu":
                y = F.relu(args[0])
            elif op == "Sigmoid":
                y = torch.sigmoid(args[0])
            else:
                raise NotImplementedError(op)
            env[node.output[0]] = y
        return env[self.output]


def main(iterations, *pairs):
    torch.set_num_threads(1)
    result = {}
    for pair in pairs:
        model_path, input_path = pair.split("=", 1)
        model = OnnxAsTorch(model_path).eval()
        x = torch.from_numpy(np.fromfile(input_path, dtype="<f4").reshape(1, 3, 80, 80))
        times = []
        with torch.no_grad():
            logits = model(x)
            for _ in range(int(iterations)):
                start = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - start) * 1e3)
        name = model_path.rsplit("/", 1)[-1].removesuffix(".onnx")
        result[name] = {"ms": statistics.median(times), "logits": logits.reshape(-1).tolist()}
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
