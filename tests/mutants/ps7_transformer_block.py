"""Wrong implementations the tests of ps7_transformer_block must catch (see tests/mutations.py)."""

from mutations import Mutant, Variant

# causal_self_attention_backward calls softmax_backward, mlp_backward calls gelu_backward, and
# transformer_block_backward calls the backward passes of Parts 1, 3 and 5: a wrong or unwritten helper leaves the
# parts that call it their points (they are judged with stand-ins and correct helpers).
BLOCK = ("test_transformer_block_backward",)
AFTER_SOFTMAX = ("test_causal_self_attention_backward", "test_transformer_block_backward")
AFTER_GELU = ("test_mlp_backward", "test_transformer_block_backward")

MUTANTS = [
    Mutant("layernorm_missing_mean_term", "layernorm_backward",
           (("dx_hat - dx_hat.mean(axis=-1, keepdims=True)\n", "dx_hat\n"),), ("test_layernorm_backward",),
           keeps=BLOCK),
    Mutant("layernorm_missing_variance_term", "layernorm_backward",
           (("\n                    - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))", ")"),),
           ("test_layernorm_backward",), keeps=BLOCK),
    Mutant("layernorm_unbiased_variance_in_backward", "layernorm_backward",
           (("(dx_hat * x_hat).mean(axis=-1, keepdims=True))",
             "(dx_hat * x_hat).sum(axis=-1, keepdims=True) / (x_hat.shape[-1] - 1))"),),
           ("test_layernorm_backward",), keeps=BLOCK),
    Mutant("layernorm_forgets_gamma", "layernorm_backward", (("dx_hat = dout * gamma", "dx_hat = dout"),),
           ("test_layernorm_backward",), keeps=BLOCK),
    Mutant("layernorm_parameter_gradients_over_first_axis_only", "layernorm_backward",
           (("leading_axes = tuple(range(dout.ndim - 1))", "leading_axes = 0"),), ("test_layernorm_backward",),
           keeps=BLOCK),
    Mutant("layernorm_not_written", "layernorm_backward",
           (("x_hat, inv_std, gamma = cache", "raise NotImplementedError"),), ("test_layernorm_backward",),
           keeps=BLOCK),
    Mutant("softmax_backward_diagonal_only", "softmax_backward",
           (("return weights * (dweights - row_dot)", "return weights * (1.0 - weights) * dweights"),),
           ("test_softmax_backward",), keeps=AFTER_SOFTMAX),
    Mutant("softmax_backward_without_row_term", "softmax_backward",
           (("return weights * (dweights - row_dot)", "return weights * dweights"),), ("test_softmax_backward",),
           keeps=AFTER_SOFTMAX),
    Mutant("softmax_backward_sums_over_queries", "softmax_backward",
           (("(dweights * weights).sum(axis=-1, keepdims=True)", "(dweights * weights).sum(axis=-2, keepdims=True)"),),
           ("test_softmax_backward",), keeps=AFTER_SOFTMAX),
    Mutant("softmax_backward_not_written", "softmax_backward",
           (("row_dot = (dweights * weights)", "raise NotImplementedError\n    row_dot = (dweights * weights)"),),
           ("test_softmax_backward",), keeps=AFTER_SOFTMAX),
    Mutant("attention_backward_without_scale", "causal_self_attention_backward",
           (("dscores = softmax_backward(dweights, weights) / np.sqrt(head_width)",
             "dscores = softmax_backward(dweights, weights)"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("attention_backward_recomputes_weights_without_mask", "causal_self_attention_backward",
           (("D, head_width = x.shape[-1], Q.shape[-1]",
             "D, head_width = x.shape[-1], Q.shape[-1]\n"
             "    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(head_width))"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("attention_backward_key_gradient_not_transposed", "causal_self_attention_backward",
           (("dK = np.swapaxes(dscores, -1, -2) @ Q", "dK = dscores @ Q"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("attention_backward_value_gradient_not_transposed", "causal_self_attention_backward",
           (("dV = np.swapaxes(weights, -1, -2) @ dheads", "dV = weights @ dheads"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("attention_backward_forgets_key_path", "causal_self_attention_backward",
           (("dx = dQ @ W_q.T + dK @ W_k.T + dV @ W_v.T", "dx = dQ @ W_q.T + dV @ W_v.T"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("attention_backward_transposed_output_weight_gradient", "causal_self_attention_backward",
           (("dW_o = heads.reshape(-1, head_width).T @ dout.reshape(-1, D)",
             "dW_o = dout.reshape(-1, D).T @ heads.reshape(-1, head_width)"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("attention_backward_not_written", "causal_self_attention_backward",
           (("x, W_q, W_k, W_v, W_o, Q, K, V, weights, heads = cache", "raise NotImplementedError"),),
           ("test_causal_self_attention_backward",), keeps=BLOCK),
    Mutant("gelu_backward_relu_derivative", "gelu_backward",
           (("return dout * (0.5 * (1.0 + tanh_u) + 0.5 * z * (1.0 - tanh_u ** 2) * du_dz)", "return dout * (z > 0)"),),
           ("test_gelu_backward",), keeps=AFTER_GELU),
    Mutant("gelu_backward_exact_form_for_the_tanh_form", "gelu_backward",
           (("return dout * (0.5 * (1.0 + tanh_u) + 0.5 * z * (1.0 - tanh_u ** 2) * du_dz)",
             "from math import erf\n"
             "    normal_cdf = 0.5 * (1.0 + np.vectorize(erf)(z / np.sqrt(2.0)))\n"
             "    return dout * (normal_cdf + z * np.exp(-0.5 * z ** 2) / np.sqrt(2.0 * np.pi))"),),
           ("test_gelu_backward",), keeps=AFTER_GELU),
    Mutant("gelu_backward_cubic_term_not_differentiated", "gelu_backward",
           (("(1.0 + 3.0 * GELU_CUBIC * z ** 2)", "(1.0 + GELU_CUBIC * z ** 2)"),), ("test_gelu_backward",),
           keeps=AFTER_GELU),
    Mutant("gelu_backward_tanh_not_squared", "gelu_backward",
           (("(1.0 - tanh_u ** 2)", "(1.0 - tanh_u)"),), ("test_gelu_backward",), keeps=AFTER_GELU),
    Mutant("gelu_backward_only_the_chain_rule_term", "gelu_backward",
           (("return dout * (0.5 * (1.0 + tanh_u) + 0.5 * z", "return dout * (0.5 * z"),), ("test_gelu_backward",),
           keeps=AFTER_GELU),
    Mutant("mlp_relu_derivative_instead_of_gelu", "mlp_backward",
           (("dpre = gelu_backward(dout @ W_2.T, gelu_cache)", "dpre = (dout @ W_2.T) * (gelu_cache > 0)"),),
           ("test_mlp_backward",), keeps=BLOCK),
    Mutant("mlp_skips_gelu", "mlp_backward",
           (("dpre = gelu_backward(dout @ W_2.T, gelu_cache)", "dpre = dout @ W_2.T"),),
           ("test_mlp_backward",), keeps=BLOCK),
    Mutant("mlp_gelu_backward_given_its_output", "mlp_backward",
           (("gelu_backward(dout @ W_2.T, gelu_cache)", "gelu_backward(dout @ W_2.T, hidden)"),),
           ("test_mlp_backward",), keeps=BLOCK),
    Mutant("mlp_bias_gradient_not_summed_over_positions", "mlp_backward",
           (("db_2 = dout.reshape(-1, D).sum(axis=0)", "db_2 = dout.sum(axis=0)"),),
           ("test_mlp_backward",), keeps=BLOCK),
    Mutant("mlp_transposed_first_weight_gradient", "mlp_backward",
           (("dW_1 = x.reshape(-1, D).T @ dpre.reshape(-1, F)", "dW_1 = dpre.reshape(-1, F).T @ x.reshape(-1, D)"),),
           ("test_mlp_backward",), keeps=BLOCK),
    Mutant("mlp_not_written", "mlp_backward", (("x, W_1, W_2, hidden, gelu_cache = cache", "raise NotImplementedError"),),
           ("test_mlp_backward",), keeps=BLOCK),
    Mutant("block_forgets_the_residual_around_the_mlp", "transformer_block_backward",
           (("dh = dout + dh_through_mlp", "dh = dh_through_mlp"),), ("test_transformer_block_backward",)),
    Mutant("block_forgets_the_residual_around_attention", "transformer_block_backward",
           (("return dh + dx_through_attention, grads", "return dx_through_attention, grads"),),
           ("test_transformer_block_backward",)),
    Mutant("block_attention_gets_dout_instead_of_dh", "transformer_block_backward",
           (("causal_self_attention_backward(\n        dh, attention_cache)",
             "causal_self_attention_backward(\n        dout, attention_cache)"),), ("test_transformer_block_backward",)),
    Mutant("block_swaps_the_layernorm_caches", "transformer_block_backward",
           (("layernorm_backward(dnormed_2, ln_2_cache)", "layernorm_backward(dnormed_2, ln_1_cache)"),
            ("layernorm_backward(dnormed_1, ln_1_cache)", "layernorm_backward(dnormed_1, ln_2_cache)")),
           ("test_transformer_block_backward",)),
    Mutant("block_swaps_the_gamma_gradients", "transformer_block_backward",
           (('dh_through_mlp, grads["gamma_2"]', 'dh_through_mlp, grads["gamma_1"]'),
            ('dx_through_attention, grads["gamma_1"]', 'dx_through_attention, grads["gamma_2"]')),
           ("test_transformer_block_backward",)),
    Mutant("wrong_causal_rows", "q_causal_rows", (("causal_nonzero_rows = 3", "causal_nonzero_rows = 4"),),
           ("test_q_causal_rows",), visible_passes=True),
    Mutant("parameter_count_without_biases", "q_parameters",
           (("(64 * 256 + 256) + (256 * 64 + 64)", "(64 * 256) + (256 * 64)"),), ("test_q_parameters",),
           visible_passes=True),
]

VARIANTS = [
    # The three terms written with sums over the row, as they come out of the Jacobian in the text.
    Variant("layernorm_with_sums", "layernorm_backward",
            (("dx = inv_std * (dx_hat - dx_hat.mean(axis=-1, keepdims=True)\n"
              "                    - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))",
              "D = x_hat.shape[-1]\n"
              "    dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=-1, keepdims=True)\n"
              "                        - x_hat * (dx_hat * x_hat).sum(axis=-1, keepdims=True))"),)),
    # Each row's Jacobian diag(p) - p p^T built and applied (slower, the same numbers).
    Variant("softmax_backward_with_jacobians", "softmax_backward",
            (("row_dot = (dweights * weights).sum(axis=-1, keepdims=True)\n"
              "    return weights * (dweights - row_dot)",
              "jacobians = np.einsum('...i,ij->...ij', weights, np.eye(weights.shape[-1])) "
              "- weights[..., :, None] * weights[..., None, :]\n"
              "    return np.einsum('...ij,...j->...i', jacobians, dweights)"),)),
    # Weight gradients with einsum over the batch and the positions instead of flattening.
    Variant("attention_backward_with_einsum", "causal_self_attention_backward",
            (("dW_q = flat_x @ dQ.reshape(-1, head_width)", "dW_q = np.einsum('ntd,nte->de', x, dQ)"),
             ("dW_o = heads.reshape(-1, head_width).T @ dout.reshape(-1, D)",
              "dW_o = np.einsum('nte,ntd->ed', heads, dout)"))),
    # tanh' written as sech^2 (cosh overflows to inf far from 0, and 1 / inf is the right 0).
    Variant("gelu_backward_with_sech", "gelu_backward",
            (("tanh_u = np.tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z ** 3))",
              "u = SQRT_2_OVER_PI * (z + GELU_CUBIC * z ** 3)\n    tanh_u = np.tanh(u)\n"
              "    with np.errstate(over='ignore'):\n        sech_squared = 1.0 / np.cosh(u) ** 2"),
             ("(1.0 - tanh_u ** 2)", "sech_squared"))),
    # Gradients summed over the leading axes with tensordot.
    Variant("mlp_backward_with_tensordot", "mlp_backward",
            (("dW_2 = hidden.reshape(-1, F).T @ dout.reshape(-1, D)",
              "leading = list(range(dout.ndim - 1))\n    dW_2 = np.tensordot(hidden, dout, axes=(leading, leading))"),)),
]
