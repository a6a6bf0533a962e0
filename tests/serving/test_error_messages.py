"""What users read of TensorFlow's runtime errors: the message that names the problem, no graph internals."""

from __future__ import annotations

import pytest

from serving.errors import user_message


@pytest.mark.parametrize(
    "tensorflow_message, shown",
    [
        ("Graph execution error:\n\nassertion failed: [length must be at most 500] [Condition x <= y did not hold "
         "element-wise:] [x (length:0) = ] [501]\n\t [[{{node assert_less_equal/Assert/AssertGuard/Assert}}]]",
         "length must be at most 500"),
        ("Matrix size-incompatible: In[0]: [1,5], In[1]: [784,10]\n\t [[{{node sequential/dense/MatMul}}]]",
         "Matrix size-incompatible: In[0]: [1,5], In[1]: [784,10]"),
        ("Incompatible shapes: [2] vs. [3]\n\t [[{{function_node __inference_serve_12}}{{node add}}]]",
         "Incompatible shapes: [2] vs. [3]"),
        ("assertion failed: [] [Condition x > 0 did not hold]", "assertion failed: [] [Condition x > 0 did not hold]"),
    ],
)
def test_user_message_keeps_what_the_user_can_act_on(tensorflow_message, shown):
    assert user_message(tensorflow_message) == shown
