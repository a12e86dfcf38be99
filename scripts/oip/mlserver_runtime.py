"""An MLServer runtime serving an ONNX file with onnxruntime (model-settings.json: parameters.uri)."""
import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxModel(MLModel):
    async def load(self) -> bool:
        self.session = ort.InferenceSession(self.settings.parameters.uri, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {}
        for i, tensor in enumerate(payload.inputs):
            name = tensor.name if tensor.name in self.input_names else self.input_names[i]
            feeds[name] = NumpyCodec.decode_input(tensor).astype(np.float32)
        outputs = self.session.run(None, feeds)
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[NumpyCodec.encode_output(n, o) for n, o in zip(self.output_names, outputs)],
        )
