"""The fidelity backend: both wrappers as the original Keras 2 graph-mode code (``tf_keras``).

The claim was measured in 2018 on Keras 2 in TF1 graph mode. tf_keras 2.21 still runs that mode
after ``tf.compat.v1.disable_eager_execution()``, which must happen before any TF op, so this
backend runs only in worker processes of its own (and in subprocess tests).
"""
