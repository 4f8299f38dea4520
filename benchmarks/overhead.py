"""How much does mgbench's way of timing cost? A benchmark that prints a number, not a test.

Alternates, in one process, rounds of (a) Keras ``fit`` timed by mgbench's step callback, which
syncs on the loss after every step, and (b) a bare ``tf.function`` training loop over the same
pipeline that syncs once at the end (the cheapest honest loop). Prints images/s of both per
round and the median ratio bare/mgbench: 1.00 means no overhead; the target is <= 1.03.

    python benchmarks/overhead.py [--model MobileNetV2] [--image-size 32] [--batch 32]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="MobileNetV2")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--timed-steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from mgbench import models
    from mgbench.platform import lazy
    from mgbench.trackers.timing import StepTimer, timed_fit

    tf = lazy.tensorflow()
    keras = lazy.keras()
    model = models.model_factory(args.model, keras)(
        input_shape=models.input_shape(args.image_size), classes=10
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss_fn, jit_compile=False)
    images, labels = models.synthetic_batch(args.image_size, 10, args.batch)
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()

    def mgbench_round() -> float:
        timer = StepTimer(args.warmup_steps, args.timed_steps, args.batch)

        return timed_fit(model, dataset, timer, keras).images_per_s

    optimizer = keras.optimizers.SGD(0.01)

    @tf.function(jit_compile=False)
    def bare_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    iterator = iter(dataset)

    def bare_round() -> float:
        for _ in range(1 + args.warmup_steps):
            float(bare_step(*next(iterator)))
        started = time.perf_counter()
        for _ in range(args.timed_steps):
            loss = bare_step(*next(iterator))
        float(loss)
        return args.batch * args.timed_steps / (time.perf_counter() - started)

    ratios = []
    print(f"{args.model} {args.image_size}px batch {args.batch}, {args.timed_steps} timed steps")
    print(f"{'round':>5} {'mgbench img/s':>14} {'bare img/s':>11} {'bare/mgbench':>13}")
    for index in range(args.rounds):
        ours = mgbench_round()
        bare = bare_round()
        ratios.append(bare / ours)
        print(f"{index + 1:>5} {ours:>14,.1f} {bare:>11,.1f} {ratios[-1]:>13.3f}")
    print(f"median overhead ratio (bare/mgbench): {statistics.median(ratios):.3f} (target <= 1.03)")


if __name__ == "__main__":
    main()
