"""Networks (Keras 3), training, ONNX export, inference runtimes, model cache."""
