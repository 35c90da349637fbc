"""From-scratch reference layers of chapter 2, each checked against PyTorch in tests/test_layers_*.py.

- :mod:`.conv`: output sizes, padding, convolution (loops and im2col), parameter and cost counts.
  Taught in notebooks/02_convolution.ipynb.
- :mod:`.activations`: activations, their derivatives, and the ``ACTIVATIONS`` registry.
  Taught in notebooks/03_activations.ipynb.
- :mod:`.pooling`: max, average and global average pooling. Taught in notebooks/04_pooling.ipynb.
- :mod:`.norm`: batch, layer, instance and group norm. Taught in notebooks/05_normalization.ipynb.

The copies of what an exercise asks the learner to write (``_conv_params``, ``_leaky_relu``, ``_swish``,
``_swish_grad``, ``_max_pool2d``, ``_global_avg_pool2d``, ``_batch_norm``, ``_group_norm``) are private
to their modules and not exported here: an exercise's answer lives only in solutions/
(tests/test_answers_out_of_reach.py).
"""
from .activations import (
    ACTIVATIONS,
    Activation,
    Swish,
    activation,
    elu,
    elu_grad,
    gelu,
    gelu_grad,
    leaky_relu_grad,
    mish,
    mish_grad,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_jacobian,
    tanh,
    tanh_grad,
)
from .conv import (
    conv2d_im2col,
    conv2d_loops,
    conv_flops,
    conv_output_size,
    depthwise_separable_params,
    pad2d,
    receptive_field,
)
from .norm import NORM_AXES, NORM_KINDS, instance_norm, layer_norm, norm_axes
from .pooling import avg_pool2d, pool_output_size

__all__ = [
    # conv
    "conv_output_size",
    "pad2d",
    "conv2d_loops",
    "conv2d_im2col",
    "conv_flops",
    "receptive_field",
    "depthwise_separable_params",
    # activations
    "relu",
    "relu_grad",
    "leaky_relu_grad",
    "elu",
    "elu_grad",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "Swish",
    "mish",
    "mish_grad",
    "gelu",
    "gelu_grad",
    "softmax",
    "softmax_jacobian",
    "Activation",
    "ACTIVATIONS",
    "activation",
    # pooling
    "pool_output_size",
    "avg_pool2d",
    # norm
    "NORM_KINDS",
    "NORM_AXES",
    "norm_axes",
    "layer_norm",
    "instance_norm",
]
