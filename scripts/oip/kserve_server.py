"""A KServe model server for an ONNX file with onnxruntime, on 127.0.0.1 only.

Usage: python kserve_server.py MODEL.onnx NAME PORT
"""
import sys

model_path, model_name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
# kserve parses sys.argv when imported; it must see none of ours.
sys.argv = sys.argv[:1]

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import uvicorn  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402

# KServe 0.21 hard-codes host 0.0.0.0 for its REST server: keep it on loopback.
_config_init = uvicorn.Config.__init__


def _loopback_config(self, *args, **kwargs):
    kwargs["host"] = "127.0.0.1"
    _config_init(self, *args, **kwargs)


uvicorn.Config.__init__ = _loopback_config


class OnnxModel(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.ready = True

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        feeds = {}
        for i, tensor in enumerate(payload.inputs):
            name = tensor.name if tensor.name in self.input_names else self.input_names[i]
            feeds[name] = tensor.as_numpy().astype(np.float32)
        binary = payload.use_binary_outputs
        outputs = []
        for n, o in zip(self.output_names, self.session.run(None, feeds)):
            out = InferOutput(name=n, shape=list(o.shape), datatype="FP32")
            out.set_data_from_numpy(o.astype(np.float32), binary_data=binary)
            outputs.append(out)
        return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs, use_binary_outputs=binary)


if __name__ == "__main__":
    ModelServer(http_port=port, enable_grpc=False, workers=1).start([OnnxModel(model_name, model_path)])
