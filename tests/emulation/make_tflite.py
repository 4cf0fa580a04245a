"""Write a small MobileNet v1 .tflite for the emulation tests: ``python make_tflite.py OUT [SIZE] [ALPHA]``.

Imports TensorFlow; the emulation tests' ``tiny_tflite`` fixture calls ``main`` in their own process,
which has imported it already. Random weights, float32, batch 1.
"""

import sys

import os

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    sys.exit("make_tflite.py: TF_USE_LEGACY_KERAS=1 must be set before Python starts")
import tensorflow as tf  # noqa: E402

keras = tf.keras


def main(out: str, size: int = 32, alpha: float = 0.25) -> None:
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNet(input_shape=(size, size, 3), alpha=alpha, weights=None, classes=10)
    # from a batch-1 concrete function, as pipeline.infer.to_tflite converts: from_keras_model exports a
    # SavedModel first, 10-20 s instead of 1-4 s for the same network
    spec = tf.TensorSpec((1, size, size, 3), tf.float32)
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec], autograph=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    flatbuffer = converter.convert()
    with open(out, "wb") as fh:
        fh.write(flatbuffer)


if __name__ == "__main__":
    main(sys.argv[1], *(int(sys.argv[2]),) if len(sys.argv) > 2 else (), *(float(sys.argv[3]),) if len(sys.argv) > 3 else ())
