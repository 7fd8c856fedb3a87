"""Text shared by routing and memory: normalized and stemmed words (`words`), the programming languages a
request names (`languages`) and sentence embeddings (`embeddings`, imported on demand: it loads ONNX Runtime)."""
