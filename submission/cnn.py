"""Homework: a small neural network for 14x14 digits, built from NumPy alone.

Fill in every function marked TO DO. Shapes follow the homework: activations
are column vectors (n, 1), gradients of the loss are row vectors (1, n), and an
image is (H, W, C). Run this file to train and test all four models with the
driver in main_functions.py (it needs mnist_train.mat and mnist_test.mat in
this folder).
"""

import math
import os
import time

import cv2
import main_functions as main
import matplotlib.pyplot as plt
import numpy as np
import scipy.io as sio


def get_mini_batch(im_train, label_train, batch_size):
    """Split the training set into shuffled mini-batches.

    Inputs: im_train (196, n) images, one per column; label_train (1, n)
    integer labels 0..9; batch_size, an int.
    Outputs: mini_batch_x, a list of (196, b) image batches, and mini_batch_y,
    a list of (10, b) one-hot label batches. Shuffle images and labels with the
    same random order; together the batches hold every column once, and only
    the last batch may hold fewer than batch_size columns.
    """
    # TO DO
    return mini_batch_x, mini_batch_y


def fc(x, w, b):
    """Fully connected layer.

    Inputs: x (m, 1), w (n, m), b (n, 1).
    Output: y (n, 1), computed as y = w x + b.
    """
    # TO DO
    return y


def fc_backward(dl_dy, x, w, b, y):
    """Backward pass of the fully connected layer.

    Inputs: dl_dy (1, n), the loss gradient with respect to y; x (m, 1),
    w (n, m), b (n, 1) and y (n, 1) as in the forward pass.
    Outputs: dl_dx (1, m), dl_dw (1, n*m) and dl_db (1, n). dl_dw is the
    (n, m) gradient matrix flattened row by row, i.e. reshape(1, -1).
    """
    # TO DO
    return dl_dx, dl_dw, dl_db


def loss_euclidean(y_tilde, y):
    """Euclidean loss between a prediction and its target.

    Inputs: y_tilde (n, 1), the prediction; y (n, 1), the target.
    Outputs: l, the scalar ||y - y_tilde||^2, and dl_dy (1, n), the
    derivative of l with respect to y_tilde.
    """
    # TO DO
    return l, dl_dy


def loss_cross_entropy_softmax(x, y):
    """Softmax followed by cross-entropy.

    Inputs: x (n, 1), the class scores; y (n, 1), the one-hot label.
    Outputs: l, the scalar -sum_i y_i log(softmax(x)_i), and dl_dy (1, n), the
    derivative of l with respect to x, which is softmax(x) - y.
    """
    # TO DO
    return l, dl_dy


def relu(x):
    """Rectified linear unit.

    Input: x of any shape.
    Output: y shaped like x, max(0, x) taken element by element (a leaky ReLU
    with a small slope for x < 0 is allowed).
    """
    # TO DO
    return y


def relu_backward(dl_dy, x, y):
    """Backward pass of the ReLU.

    Inputs: dl_dy shaped like y; x, the ReLU's input; y, its output.
    Output: dl_dx shaped like x: dl_dy passed through where x > 0, blocked
    elsewhere.
    """
    # TO DO
    return dl_dx


def conv(x, w_conv, b_conv):
    """Convolutional layer: stride 1, zero padding that keeps the size.

    Inputs: x (H, W, C1); w_conv (h, w, C1, C2), C2 filters of size h x w x C1;
    b_conv (C2, 1), one bias per filter.
    Output: y (H, W, C2), where y(i, j, c) is the sum of filter c multiplied
    with the h x w x C1 patch of the padded x centred on pixel (i, j), plus
    b_conv(c) (cross-correlation, as im2col gives).
    """
    # TO DO
    return y


def conv_backward(dl_dy, x, w_conv, b_conv, y):
    """Backward pass of the convolutional layer (weights and bias only).

    Inputs: dl_dy (H, W, C2); x (H, W, C1), w_conv (h, w, C1, C2),
    b_conv (C2, 1) and y (H, W, C2) as in the forward pass.
    Outputs: dl_dw (h, w, C1, C2) and dl_db (C2, 1). No dl_dx is needed: the
    network has a single convolutional layer.
    """
    # TO DO
    return dl_dw, dl_db


def pool2x2(x):
    """2x2 max pooling with stride 2.

    Input: x (H, W, C).
    Output: y (H/2, W/2, C), the largest value of each 2x2 window, channel by
    channel.
    """
    # TO DO
    return y


def pool2x2_backward(dl_dy, x, y):
    """Backward pass of the 2x2 max pooling.

    Inputs: dl_dy (H/2, W/2, C); x (H, W, C) and y (H/2, W/2, C) as in the
    forward pass.
    Output: dl_dx (H, W, C): each window's gradient goes to the cell that held
    the window's maximum, and the other cells get zero.
    """
    # TO DO
    return dl_dx


def flattening(x):
    """Flatten a feature map into a column vector.

    Input: x (H, W, C).
    Output: y (H*W*C, 1), the entries of x in column-major order.
    """
    # TO DO
    return y


def flattening_backward(dl_dy, x, y):
    """Backward pass of the flattening.

    Inputs: dl_dy with H*W*C entries; x (H, W, C) and y (H*W*C, 1) as in the
    forward pass.
    Output: dl_dx (H, W, C), dl_dy put back in the shape of x.
    """
    # TO DO
    return dl_dx


def train_slp_linear(mini_batch_x, mini_batch_y):
    """Train a single-layer linear perceptron with the Euclidean loss.

    Inputs: mini_batch_x, a list of (196, b) image batches; mini_batch_y, a
    list of (10, b) one-hot label batches.
    Outputs: w (10, 196) and b (10, 1) of the layer fc(x, w, b). Use mini-batch
    SGD: Gaussian initial weights, gradients summed over each batch, and a
    learning rate multiplied by a decay in (0, 1] every 1000 iterations.
    """
    # TO DO
    return w, b


def train_slp(mini_batch_x, mini_batch_y):
    """Train a single-layer perceptron with the softmax cross-entropy loss.

    Inputs: mini_batch_x, a list of (196, b) image batches; mini_batch_y, a
    list of (10, b) one-hot label batches.
    Outputs: w (10, 196) and b (10, 1) of the layer fc(x, w, b), trained with
    mini-batch SGD as in train_slp_linear.
    """
    # TO DO
    return w, b


def train_mlp(mini_batch_x, mini_batch_y):
    """Train a two-layer perceptron: fc(30), ReLU, fc(10), softmax cross-entropy.

    Inputs: mini_batch_x, a list of (196, b) image batches; mini_batch_y, a
    list of (10, b) one-hot label batches.
    Outputs: w1 (30, 196), b1 (30, 1), w2 (10, 30) and b2 (10, 1), trained with
    mini-batch SGD as in train_slp_linear.
    """
    # TO DO
    return w1, b1, w2, b2


def train_cnn(mini_batch_x, mini_batch_y):
    """Train a CNN: conv 3x3x1x3, ReLU, 2x2 max pool, flatten (147), fc(10).

    Inputs: mini_batch_x, a list of (196, b) image batches; mini_batch_y, a
    list of (10, b) one-hot label batches. Each image column x becomes the
    (14, 14, 1) input x.reshape((14, 14, 1), order='F').
    Outputs: w_conv (3, 3, 1, 3), b_conv (3, 1), w_fc (10, 147) and
    b_fc (10, 1), trained with mini-batch SGD and the softmax cross-entropy
    loss as in train_slp_linear.
    """
    # TO DO
    return w_conv, b_conv, w_fc, b_fc


if __name__ == "__main__":
    main.main_slp_linear()
    main.main_slp()
    main.main_mlp()
    main.main_cnn()
