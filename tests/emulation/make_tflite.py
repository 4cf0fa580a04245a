"""Write a small MobileNet v1 .tflite for the emulation tests: ``python make_tflite.py OUT [SIZE] [ALPHA]``.

Runs in its own process (it imports TensorFlow); random weights, float32.
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
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with open(out, "wb") as fh:
        fh.write(flatbuffer)


if __name__ == "__main__":
    main(sys.argv[1], *(int(sys.argv[2]),) if len(sys.argv) > 2 else (), *(float(sys.argv[3]),) if len(sys.argv) > 3 else ())
