"""Driver of the homework: train each model of cnn.py, test it, save it.

Each main_* function loads mnist_train.mat and mnist_test.mat from the folder
this file is in, scales the images to 0..1, cuts mini-batches of 32 with
cnn.get_mini_batch, trains with the matching cnn.train_* function, and tests
the trained model on the test images with your own forward functions. It prints
the accuracy, draws the confusion matrix and saves the weights (slp_linear.mat,
slp.mat, mlp.mat, cnn.mat) beside this file.

np.random.seed(0) is called before get_mini_batch and again before each
trainer, so two runs of the same code give the same batches and weights.
"""

import os
import sys
import time

import cnn
import numpy as np
import scipy.io as sio

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH_SIZE = 32
N_CLASSES = 10


def load_data():
    """Load the course data from the folder of this file.

    Returns im_train (196, n_train) and im_test (196, n_test) as floats in
    0..1, label_train (1, n_train) and label_test (1, n_test) as loaded.
    """
    data = {}
    for name in ("mnist_train.mat", "mnist_test.mat"):
        path = os.path.join(HERE, name)
        if not os.path.isfile(path):
            raise SystemExit(
                f"{name} not found in {HERE}: put the course's mnist_train.mat"
                " and mnist_test.mat in the same folder as main_functions.py."
            )
        data.update(sio.loadmat(path))

    im_train = data["im_train"] / 255.0
    im_test = data["im_test"] / 255.0
    return im_train, data["label_train"], im_test, data["label_test"]


def prepare():
    """Load the data and cut the training set into seeded mini-batches.

    Returns mini_batch_x (list of (196, b)), mini_batch_y (list of (10, b)),
    im_test (196, n_test) and label_test (1, n_test).
    """
    im_train, label_train, im_test, label_test = load_data()

    np.random.seed(0)
    mini_batch_x, mini_batch_y = cnn.get_mini_batch(im_train, label_train, BATCH_SIZE)
    return mini_batch_x, mini_batch_y, im_test, label_test


def train(trainer, mini_batch_x, mini_batch_y):
    """Seed, run one trainer and say how long it took."""
    print(f"{trainer.__name__}: training on {len(mini_batch_x)} mini-batches...")
    np.random.seed(0)
    start = time.time()

    weights = trainer(mini_batch_x, mini_batch_y)
    print(f"{trainer.__name__}: trained in {time.time() - start:.1f} s")
    return weights


def evaluate(forward, im_test, label_test):
    """Test a model one image at a time.

    forward maps one image column (196, 1) to its class scores (10, 1).
    Returns the confusion matrix (10, 10) of counts, rows the predicted class
    and columns the true class, and the accuracy, a fraction of 1.
    """
    labels = np.asarray(label_test).reshape(-1).astype(int)
    confusion = np.zeros((N_CLASSES, N_CLASSES))
    for i, label in enumerate(labels):
        scores = forward(im_test[:, [i]])
        predicted = int(np.argmax(np.ravel(scores)))
        confusion[predicted, label] += 1

    accuracy = np.trace(confusion) / labels.size
    return confusion, accuracy


def show_confusion(confusion, accuracy, name):
    """Draw the confusion matrix with each column normalised to sum to 1.

    With a display the figure opens without pausing the script; it is also
    saved as confusion_<name>.png beside this file, which is all that happens
    where there is no display. Without matplotlib only a message is printed.
    """
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: the confusion matrix is not drawn.")
        return

    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    headless = sys.platform.startswith("linux") and no_display
    if headless:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column_sums = confusion.sum(axis=0, keepdims=True)
    normalised = confusion / np.maximum(column_sums, 1)

    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(normalised, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(N_CLASSES))
    ax.set_yticks(range(N_CLASSES))
    ax.set_xlabel("true label")
    ax.set_ylabel("predicted label")
    ax.set_title(f"{name}: accuracy {accuracy:.4f}")

    png = os.path.join(HERE, f"confusion_{name}.png")
    fig.savefig(png, dpi=100)
    print(f"confusion matrix saved to {png}")
    if headless:
        plt.close(fig)
    else:
        plt.show(block=False)
        plt.pause(0.5)


def report(forward, im_test, label_test, name):
    """Test a trained model, print its accuracy and show its confusion matrix."""
    confusion, accuracy = evaluate(forward, im_test, label_test)

    print(f"{name}: test accuracy = {accuracy:.4f}")
    try:
        show_confusion(confusion, accuracy, name)
    except Exception as exc:
        # The figure is a convenience: the accuracy is printed and the weights
        # are saved, so a broken or stand-in matplotlib must not end the run.
        print(f"the confusion matrix could not be drawn: {exc!r}")


def save_weights(name, weights):
    """Save a dict of weight arrays as <name>.mat beside this file."""
    path = os.path.join(HERE, f"{name}.mat")
    sio.savemat(path, weights)
    print(f"weights saved to {path}")


def main_slp_linear():
    """Single-layer linear perceptron trained with the Euclidean loss."""
    mini_batch_x, mini_batch_y, im_test, label_test = prepare()

    w, b = train(cnn.train_slp_linear, mini_batch_x, mini_batch_y)
    save_weights("slp_linear", {"w": w, "b": b})

    def forward(x):
        return cnn.fc(x, w, b)

    report(forward, im_test, label_test, "slp_linear")


def main_slp():
    """Single-layer perceptron trained with the softmax cross-entropy loss."""
    mini_batch_x, mini_batch_y, im_test, label_test = prepare()

    w, b = train(cnn.train_slp, mini_batch_x, mini_batch_y)
    save_weights("slp", {"w": w, "b": b})

    def forward(x):
        return cnn.fc(x, w, b)

    report(forward, im_test, label_test, "slp")


def main_mlp():
    """Two-layer perceptron: fc(30), ReLU, fc(10)."""
    mini_batch_x, mini_batch_y, im_test, label_test = prepare()

    w1, b1, w2, b2 = train(cnn.train_mlp, mini_batch_x, mini_batch_y)
    save_weights("mlp", {"w1": w1, "b1": b1, "w2": w2, "b2": b2})

    def forward(x):
        hidden = cnn.relu(cnn.fc(x, w1, b1))
        return cnn.fc(hidden, w2, b2)

    report(forward, im_test, label_test, "mlp")


def main_cnn():
    """CNN: conv 3x3x1x3, ReLU, 2x2 max pool, flatten, fc(10)."""
    mini_batch_x, mini_batch_y, im_test, label_test = prepare()

    w_conv, b_conv, w_fc, b_fc = train(cnn.train_cnn, mini_batch_x, mini_batch_y)
    weights = {"w_conv": w_conv, "b_conv": b_conv, "w_fc": w_fc, "b_fc": b_fc}
    save_weights("cnn", weights)

    def forward(x):
        image = x.reshape((14, 14, 1), order="F")
        features = cnn.pool2x2(cnn.relu(cnn.conv(image, w_conv, b_conv)))
        return cnn.fc(cnn.flattening(features), w_fc, b_fc)

    report(forward, im_test, label_test, "cnn")
