"""The answer key of the lessons' self-check questions (student side, read by autograder.selfcheck).

Each lesson's check cell names a question here, ``check("05.q3", answer_3)``, so that the cell under a question
does not show its answer. Reading this file before answering spoils the questions, nothing more: the self-checks
are not graded. Question ids are the lesson's number and the question's: "05.q3" is question 3 of lesson 05.

Where an answer is a number the lesson computes, the lesson's own code is the authority: the course's tests
(tests/test_selfcheck.py) run every lesson and compare each such answer, and each hinted wrong answer the lesson
computes, with this key.
"""

from __future__ import annotations

import math

from .selfcheck import Question

QUESTIONS: dict[str, Question] = {
    # --- lesson 01: what is machine learning -----------------------------------------------------------------
    "01.q1": Question(
        "C", see="section 1",
        why="Traditional programs turn data and rules into answers; learning turns data and answers into rules.",
        hints={"A": "That is traditional programming: a person wrote the rules.",
               "B": "The data are what you start from, not what you get back.",
               "D": "In machine learning nobody supplies the rules; they are the output."}),
    "01.q2": Question(
        "A", see="section 1.4",
        why="The model only sees which words separate the two piles of training messages; in this corpus 'your' is "
            "one of the strongest (section 1.4).",
        hints={"B": "The learned model never looks at the phrase list; and the rule-based filter lets this message "
                    "through.",
               "C": "The model adds up the weights of the words a message contains; look at the word weights in "
                    "section 1.4.",
               "D": "Most test messages are unseen and the model calls many of them ham."}),
    "01.q3": Question(
        500_000, see="section 2.3",
        why="The fitted line is 200 dollars per square foot with no intercept, and 200 * 2500 = 500,000.",
        hints={500: "The model works in thousands of dollars; the question asks for dollars.",
               200: "200 is the price per square foot, not the price of the house."}),
    "01.q4": Question(
        9, see="section 3.2",
        why="Every token except the first is the target of one pair, whose input is everything before it.",
        hints={10: "The first token has nothing before it, so it is never a target.",
               45: "That counts all pairs of positions; each target gets only one input, its whole left context."}),
    "01.q5": Question(
        math.log(16), see="section 3.3",
        why="All similarities are equal, so each row of the softmax is uniform over 16 candidates and the loss is "
            "-log(1/16) = log 16, whatever the temperature.",
        hints={0: "Equal embeddings make the partner maximally similar, but every negative is equally similar.",
               16: "The loss is a logarithm: log 16, not 16.",
               1 / 16: "1/16 is the probability each row gives its partner; the loss is minus its logarithm."}),
    "01.q6": Question(
        (1 - 0.1) + 0.1 / 5, see="section 3.4",
        why="It exploits with probability 0.9, and the exploring 0.1 picks the best machine one time in five: "
            "0.9 + 0.1 / 5 = 0.92.",
        hints={0.9: "Exploration chooses among all 5 machines, including the best one.",
               0.1: "0.1 is how often it explores, not how often it picks the best machine."}),

    # --- lesson 02: neurons and activations ------------------------------------------------------------------
    "02.q1": Question(
        "B", see="section 3",
        why="Without a non-linear activation, stacked layers merge into one linear layer (section 3), whatever "
            "their number.",
        hints={"A": "Activations add a little computation rather than saving any.",
               "C": "The parameters live in the weights and biases; most activations have none.",
               "D": "The weight matrices connect the layers; the activation acts on each unit separately."}),
    "02.q2": Question(
        "B", see="section 2",
        why="Rectified Linear Unit: it passes positive inputs unchanged and replaces negative ones by 0.",
        hints={"A": "ReLU acts on one number at a time and has no connections of its own.",
               "C": "ReLU does not regularise; dropout and weight decay do that.",
               "D": "Remembering earlier inputs is what recurrent layers do; ReLU has no memory."}),
    "02.q3": Question(
        0.25, see="section 2.5",
        why="sigma'(z) = sigma(z)(1 - sigma(z)) peaks at z = 0, where it is 1/2 * 1/2 = 1/4.",
        hints={0.5: "0.5 is sigma(0), the value of the function, not of its derivative.",
               1: "1 is the peak derivative of tanh; the sigmoid is four times flatter."}),
    "02.q4": Question(
        math.exp(2.0) / (math.exp(2.0) + math.exp(1.0) + math.exp(0.1)), see="section 2.7",
        why="Adding the same constant (here 100) to every logit leaves softmax unchanged (section 2.7), so cat gets "
            "the same probability as with the logits (2.0, 1.0, 0.1).",
        hints={1.0: "The logits are large, but only their differences matter: softmax is shift invariant.",
               102.0 / (102.0 + 101.0 + 100.1): "That is a plain ratio of the logits; softmax exponentiates them "
                                                "first.",
               2.0 / (2.0 + 1.0 + 0.1): "That is a plain ratio of the logits; softmax exponentiates them first."}),
    "02.q5": Question(
        4 * 3 + 3, see="section 3",
        why="W' = W1 W2 has shape (4, 3) and b' has shape (3,): 12 + 3 = 15 numbers (section 3).",
        hints={67: "67 counts the two separate layers (4*8 + 8 + 8*3 + 3); merged they need far fewer.",
               12: "Do not forget the merged bias b' = b1 W2 + b2, one number per output."}),

    # --- lesson 03: gradient descent -------------------------------------------------------------------------
    "03.q1": Question(
        "D", see="section 3",
        why="Each step multiplies x by 1 - 2*eta; only 1.2 gives a factor below -1, so |x| grows every step.",
        hints={"A": "0.05 is small and safe: the factor is positive and below 1.",
               "B": "0.5 gives the factor 0: it lands exactly on the minimum in one step.",
               "C": "0.9 does oscillate, but its factor 1 - 2*0.9 lies between -1 and 0, so each jump lands closer to "
                    "0 and it still converges."}),
    "03.q2": Question(
        "local", see="section 5",
        why="At x = 0.5 the slope is negative, so gradient descent moves right, into the valley on the right, which "
            "is the shallower (local) one. The global minimum is on the left.",
        hints={"global": "That is what the source material claims; check the table of critical points and the plot "
                         "in section 5 again."}),
    "03.q3": Question(
        8, see="section 6",
        why="Hold x1 fixed: the derivative of 2*x2^2 is 4*x2, and 4 * 2 = 8.",
        hints={6: "That is the partial derivative with respect to x1 (2 * x1).",
               4: "Keep the coefficient: the derivative of 2*x2^2 is 2 * 2*x2, not 2*x2.",
               17: "That is the value of f at (3, 2), not a slope."}),
    "03.q4": Question(
        0.5, see="section 7",
        why="The x2 factor 1 - 4*eta reaches -1 at eta = 0.5; the steeper direction sets the limit.",
        hints={1: "That is the boundary for the x1 direction alone; x2 is steeper and breaks first.",
               0.25: "At 0.25 the x2 factor is 0: that is the fastest rate for x2, not the boundary."}),

    # --- lesson 04: backpropagation --------------------------------------------------------------------------
    "04.q1": Question(
        "B", see="section 2.2",
        why="Backpropagation is the chain rule applied from the loss backwards; it produces dLoss/dw for every "
            "weight. Using those gradients to change the weights is the job of gradient descent.",
        hints={"A": "That is what the forward pass of a classifier produces.",
               "C": "The learning rate is chosen by you (or a schedule); backpropagation only supplies the gradients "
                    "it multiplies.",
               "D": "Backpropagation runs once per update; it says nothing about how long to train."}),
    "04.q2": Question(
        3 * 4 ** 2 * (2 * 1 + 6 * 1), see="section 1",
        why="u = 1 and v = 4, so df/dx2 = 3 v^2 (2u + 6 x2) = 48 * 8: both routes from x2 to v count.",
        hints={3 * 4 ** 2 * 2 * 1: "That keeps only the route through u; x2 also enters v directly through 3 x2^2.",
               3 * 4 ** 2 * 6 * 1: "That keeps only the direct route 3 x2^2; x2 also enters v through u.",
               12 * 1 * 4 ** 2: "That is df/dx1 = 12 u v^2."}),
    "04.q3": Question(
        1520, see="section 2.2",
        why="dE/dprediction = 2 (33 - 14) = 38, dprediction/dh1 = w3 = 1 and dh1/dw1 = 2 (1 + 4) * 4 = 40; multiply "
            "along the path.",
        hints={380: "That is the value in the source material: dh1/dw1 = 2 (x1 + w1 x2) x2 has the factor x2 = 4 "
                    "twice, so it is 40, not 10.",
               520: "That is the first example's gradient; this question asks about (1, 4).",
               950: "That is dE/dw3 = dE/dprediction * h1."}),
    "04.q4": Question(
        0, see="section 5",
        why="ReLU's local derivative is 0 wherever its input was negative, so it blocks the gradient completely: "
            "that unit's incoming weights get no update from this example.",
        hints={2.5: "That would be right for a positive z; for z <= 0 ReLU's slope is 0.",
               -0.75: "The gradient is not multiplied by z; it is multiplied by the slope of ReLU at z."}),
    "04.q5": Question(
        "D", see="section 5",
        why="Each path contributes its own small change to the output, and small changes add up; in section 5, x2's "
            "gradient is the path through u plus the path through s.",
        hints={"A": "Multiplication happens *along* a path (one local derivative per step); where separate paths "
                    "meet, their contributions add.",
               "B": "Both paths change the output, so neither can be left out.",
               "C": "Averaging would halve each contribution; the centred differences in section 1 show the full sum "
                    "is right."}),
    "04.q6": Question(
        "C", see="section 6",
        why="The last layer's gradients are right, so everything up to and including them works; the error appears "
            "on the way further down, as with the missing transpose in section 6.",
        hints={"A": "A wrong loss gradient would also spoil W3 and b3, which pass.",
               "B": "Then W3 would fail, and it passes.",
               "D": "The same centred-difference code gives tiny errors for W3 and b3, so it works."}),

    # --- lesson 05: training networks ------------------------------------------------------------------------
    "05.q1": Question(
        0.7 - 1, see="section 1",
        why="The gradient is p - y: 0.7 - 1 for the true class (and 0.2, 0.1 for the others).",
        hints={0.7: "That is p itself; subtract the one-hot label, which is 1 for the true class.",
               0.3: "Check the sign: p - y = 0.7 - 1. Raising the true logit should lower the loss.",
               -math.log(0.7): "That is the loss -log 0.7, not its gradient."}),
    "05.q2": Question(
        -math.log(0.9), see="section 1",
        why="For label 0 only the term -log(1 - p) is active: -log 0.9. The prediction is good, so the loss is small.",
        hints={-math.log(0.1): "That is -log p, the term for label 1. For label 0 the loss uses 1 - p.",
               0.1: "That is p, not a loss.",
               0.9: "That is 1 - p; the loss is minus its logarithm."}),
    "05.q3": Question(
        90, see="section 3.2",
        why="89 full batches of 16 cover 1424 images; the 14 left over form one more, smaller batch.",
        hints={89: "That counts only the full batches (as the source's MNIST loop does); our train() keeps the "
                   "smaller last batch.",
               1438: "That would be online learning, one update per image."}),
    "05.q4": Question(
        "A", see="section 3.4",
        why="Hidden activations are scaled by the tiny first-layer weights, and the gradient reaching the first "
            "layer is scaled by the tiny second-layer weights; He initialisation fixes this.",
        hints={"B": "A diverging run has a growing loss; this one stayed put near log 2.",
               "C": "The same 2-16-2 network learned XOR with He initialisation in section 3.5.",
               "D": "Full-batch gradients are exact, not noisy; that is the online regime's problem."}),
    "05.q5": Question(
        "D", see="section 5.1",
        why="The dead-unit column of the table in section 5.1 shows it: with almost no active hidden units the "
            "network gives (nearly) the same answer for every image, costing about log 10.",
        hints={"A": "All losses stayed finite, and train() would have stopped on an infinite loss.",
               "B": "2.0 is the largest rate in the table.",
               "C": "The training loss is near log 10 as well."}),
    "05.q6": Question(
        0.25, see="section 5.2",
        why="At z = 0 the sigmoid is 0.5 and the slope is 0.5 * 0.5; everywhere else it is smaller. The sigmoid's "
            "slope therefore shrinks the gradient passing through it by at least a factor of 4; the layer's "
            "weights multiply in as well and can shrink or enlarge it further.",
        hints={1: "That is the slope of an active ReLU unit.",
               0.5: "That is the value of the sigmoid at z = 0, not its slope."}),
    "05.q7": Question(
        "C", see="section 5.3",
        why="In the table of section 5.3 the deep network was behind after one epoch, and after 30 epochs level with "
            "the wide one or a few test images ahead for every seed; the gap of the means was smaller than the "
            "spread between seeds. That is a small edge on one small problem. It cannot show that depth saves "
            "parameters (both networks had the same number) or that it learns hierarchical features.",
        hints={"A": "Look at the first column of the table: after one epoch the deep network was behind, and at the "
                    "end it was ahead by a few of 359 test images.",
               "B": "The wide network has one hidden layer, and the table shows its test accuracy: close to the deep "
                    "network's.",
               "D": "Both networks had about the same number of parameters (the table prints them), so the "
                    "measurement cannot say how many parameters either would need."}),

    # --- lesson 06: optimizers -------------------------------------------------------------------------------
    "06.q1": Question(
        "B", see="section 1",
        why="Adam (and its variant AdamW) is the default in most modern deep-learning code, especially for "
            "transformers. The source's explanation holds up in this lesson: Adam combines a momentum-like average "
            "of past gradients with a per-parameter step scale (section 1.3: its first step moved parameters with "
            "gradients from 0.001 to 1000 by the same amount). But 'most used' is not 'always best': on the round "
            "bowl gradient descent won, gradient descent with momentum is still common for image models, and Adam "
            "still needs its learning rate tuned (sections 2 and 3).",
        hints={"A": "Plain gradient descent is the building block, but it is rarely used alone: it struggles in "
                    "narrow valleys (section 3).",
               "C": "Newton's method needs second derivatives, a matrix with one entry per pair of parameters: far "
                    "too large for networks with millions of parameters.",
               "D": "Random search ignores the gradient; with many parameters it is hopeless."}),
    "06.q2": Question(
        (1 - 0.9) / math.sqrt(1 - 0.999), see="section 2",
        why="m_1 = (1 - beta1) g and s_1 = (1 - beta2) g^2, so the step is eta (1 - beta1) / sqrt(1 - beta2) "
            "= 3.162 eta.",
        hints={1: "That is the step WITH bias correction; without it the two averages are off by different factors.",
               0.1: "That is only the first moment's factor; the denominator sqrt(0.001 g^2) is small too.",
               100: "The factor for s is inside a square root."}),
    "06.q3": Question(
        1 / (1 - 0.9), see="section 1.2",
        why="The velocity settles where v = beta v + g, that is v = g / (1 - beta) = 10 g for beta = 0.9.",
        hints={0.9: "beta is the fraction of velocity kept per step, not the speed-up.",
               1: "That would be gradient descent (beta = 0); the velocity keeps adding up."}),
    "06.q4": Question(
        45, see="section 5",
        why="1438 / 32 = 44.94, and the last, smaller batch of 30 images is still an update: 45.",
        hints={44: "The last images form a smaller batch, but train() still makes an update with them.",
               1438: "That is the number of updates per epoch for batch size 1."}),
    "06.q5": Question(
        "C", see="section 3.2",
        why="On the round bowl gradient descent walks straight to the minimum; the extra machinery of momentum and "
            "Adam only adds overshoot there (see the table in section 3.2).",
        hints={"A": "Check the best-eta column of the table: Adam wins nowhere outright.",
               "B": "Momentum diverged for the larger rates on the valley and on Rosenbrock.",
               "D": "The same eta means a step of eta times the gradient for gradient descent but about eta per "
                    "parameter for Adam."}),

    # --- lesson 07: convolution ------------------------------------------------------------------------------
    "07.q1": Question(
        13, see="section 4",
        why="(28 + 2*1 - 5) / 2 = 12.5, the floor is 12, plus 1 for the first position: 13.",
        hints={13.5: "Take the floor of (n + 2p - k) / s before adding 1: the window cannot stick out.",
               12: "Add 1: the first window position (top edge at 0) counts too.",
               14: "Round down, not up: a half step does not give another position where the window fits.",
               12.5: "That is (n + 2p - k) / s; take its floor and add 1."}),
    "07.q2": Question(
        8 * (3 * 3 + 1), see="section 1",
        why="Each filter has 3*3 = 9 weights and 1 bias, shared by all positions: 8 * 10 = 80. The image size does "
            "not matter.",
        hints={8 * 3 * 3: "Count the biases too: one per filter.",
               8 * 26 * 26: "That is the number of outputs (8 maps of 26 x 26), not of parameters."}),
    "07.q3": Question(
        784 * 8 * 26 * 26 + 8 * 26 * 26, see="section 1",
        why="784 inputs * 5408 outputs + 5408 biases = 4,245,280, about 53,066 times the convolutional layer's 80.",
        hints={784 * 8 * 26 * 26: "Add one bias per output.",
               784 * 8 * 26 * 26 + 784: "There is one bias per output, not per input."}),
    "07.q4": Question(
        16 * (3 * 3 * 3 + 1), see="section 1",
        why="Each filter has 3*3*3 = 27 weights and 1 bias: 16 * 28 = 448.",
        hints={16 * (9 + 1): "Each filter covers all 3 channels, so it has 27 weights, not 9.",
               16 * 27: "Count the biases too: one per filter."}),
    "07.q5": Question(
        "D", see="section 3.2",
        why="horizontal_edge computes bottom row minus top row, which is positive where brightness rises going "
            "down, and zero wherever the image is constant.",
        hints={"A": "The step does not change along a row, so a right-minus-left filter gives 0 everywhere.",
               "B": "That filter is top minus bottom: negative at this edge.",
               "C": "A (-1, 2, -1) filter is a second difference: positive on one side of the step and negative on "
                    "the other."}),
    "07.q6": Question(
        9, see="section 5",
        why="Each of the 9 blocks sends its gradient to its maximum only: 9 non-zero entries.",
        hints={36: "Only the maximum of each block receives gradient; the other three get 0.",
               4: "There are 9 blocks of 2 x 2 in a 6 x 6 map, and each has one maximum."}),

    # --- lesson 08: attention and transformers ---------------------------------------------------------------
    "08.q1": Question(
        "D", see="section 1",
        why="dh_T/dh_t is a product of one-step Jacobians diag(1 - h^2) W; with ||W|| = 0.8 section 1 measured a "
            "decay close to 0.8^(T-t), below 1e-5 after 50 steps.",
        hints={"A": "Section 1 keeps the hidden size fixed and still sees the gradient vanish; the problem is the "
                    "product of Jacobians, not storage.",
               "B": "tanh outputs values between -1 and 1, negative ones included.",
               "C": "It goes back through every step; that is exactly why the product gets long."}),
    "08.q2": Question(
        64, see="section 3",
        why="A sum of d independent terms of variance 1 has variance d; dividing by sqrt(d) brings it back to 1.",
        hints={8: "8 = sqrt(64) is the standard deviation, not the variance.",
               1: "1 is the variance after dividing by sqrt(d)."}),
    "08.q3": Question(
        10 * 11 // 2, see="section 4",
        why="Position i may look at positions 0..i, that is i + 1 keys: 1 + 2 + ... + 10 = 55.",
        hints={45: "45 is the number of blocked entries (above the diagonal); the diagonal is allowed.",
               100: "The mask blocks every key that comes after the query."}),
    "08.q4": Question(
        512 // 8, see="section 5",
        why="The heads split the model width: 512 / 8 = 64 columns per head, and each head scales by sqrt(64).",
        hints={512: "Each head works on a slice of the width, not the whole width.",
               4096: "The heads divide d_model; they do not multiply it."}),
    "08.q5": Question(
        "A", see="section 9",
        why="Dividing the logits by a temperature below 1 magnifies their differences, so the softmax is sharper: "
            "section 9 measured the lowest mean entropy at 0.5.",
        hints={"B": "1.0 is the model's own distribution, in between.",
               "C": "1.5 flattens the distribution towards uniform: the highest entropy of the three."}),
    "08.q6": Question(
        False, see="section 6",
        why="The dot product equals sum_i cos(w_i k), which contains only the offset k; section 6 checked it for 40 "
            "start positions.",
        hints={True: "Look at the plot in section 6: the curves for different start positions coincide."}),
    "08.q7": Question(
        "C", see="section 1.2",
        why="Along the cell state each step multiplies the gradient by the forget gate and by nothing else. With "
            "forget gates near 1 that product shrinks slowly: section 1.2 measured a gradient on x_1 of the same "
            "order as on x_50. With gates near 0 or 0.5 it vanished.",
        hints={"A": "Forget gates near 0 wipe out the cell state at every step: section 1.2 measured the fastest "
                    "vanishing of all, faster than the plain RNN.",
               "B": "A forget gate of 0.5 halves the cell-state gradient at every step; over 49 steps little is left.",
               "D": "Look at the last line of the table in section 1.2: one of the three LSTMs kept its gradient."}),

    # --- lesson 09: LLMs and scaling laws --------------------------------------------------------------------
    "09.q1": Question(
        6 * 13e9 * 2e12, tolerance=0.01, see="section 3",
        why="C = 6 N D = 6 x 1.3e10 x 2e12 = 1.56e+23 FLOPs.",
        hints={2 * 13e9 * 2e12: "That is 2ND, the forward pass only; training adds a backward pass twice as "
                                "expensive.",
               4 * 13e9 * 2e12: "That is 4ND: the backward pass costs 4 FLOPs per parameter per token, not 2, so the "
                                "total is 6.",
               13e9 * 2e12: "That is N x D; each parameter costs about 6 FLOPs per token in training."}),
    "09.q2": Question(
        math.sqrt(1e23 / 120), tolerance=0.01, see="section 4",
        why="N = sqrt(C / 120) = sqrt(1e23 / 120) = 2.89e+10 parameters, trained on D = 20 N = 5.77e+11 tokens.",
        hints={20 * math.sqrt(1e23 / 120): "That is D, the number of tokens. N is 20 times smaller.",
               math.sqrt(1e23 / 6): "Use C = 6 N D with D = 20 N, so C = 120 N^2, not 6 N^2.",
               math.sqrt(1e23 / 20): "Use C = 6 N D with D = 20 N, so C = 120 N^2, not 20 N^2."}),
    "09.q3": Question(
        15e12 / 8e9 / 20, tolerance=0.01, see="section 5",
        why="15e12 / 8e9 = 1875 tokens per parameter, and 1875 / 20 = 93.75.",
        hints={15e12 / 8e9: "That is the number of tokens per parameter (the source material makes the same slip). "
                            "Divide by 20 to compare with the Chinchilla ratio."}),
    "09.q4": Question(
        768 * 50257, tolerance=0, see="section 2",
        why="The output projection maps d = 768 to V = 50257 logits: 768 x 50257 = 38,597,376 weights.",
        hints={768 * 50257 + 50257: "The question says without a bias; you added one per vocabulary entry.",
               163_037_184: "That is the new total; the question asks how many are added.",
               768 * 1024: "That is the size of the position embedding; the output projection has one row per "
                           "vocabulary entry."}),
    "09.q5": Question(
        "C", see="section 5",
        why="Over-training spends more training compute than the compute-optimal choice, but buys a smaller model "
            "whose inference costs about 2N FLOPs per token; the section 5 comparison shows the break-even point.",
        hints={"A": "The Chinchilla rule is about training compute, and for that it still holds: for a fixed training "
                    "budget, about 20 tokens per parameter gives the lowest loss.",
               "B": "The number of parameters is fixed by the architecture, not by the data.",
               "D": "Nothing stops that; it is simply not compute-optimal for training."}),
    "09.q6": Question(
        "A", see="section 6.3",
        why="The data sweep in 6.3 shows the loss of a fixed network still falling as images are added; with the "
            "data fixed, extra width buys almost nothing (that is what the floor of the size fit says).",
        hints={"B": "Look at the size fit: beyond a few thousand parameters the curve is almost flat. The held-out "
                    "width-128 runs already show this.",
               "C": "That changes how the fit weighs the points, not what the networks can learn."}),

    # --- lesson 10: an autograd engine ---------------------------------------------------------------------
    "10.q1": Question(
        2 * 3.0 + 1, see="section 2",
        why="x reaches f along three uses: twice in x * x (3 each) and once in + x (1). The shares add: "
            "df/dx = 2x + 1 = 7.",
        hints={6: "That is the x * x part only; the + x term is a second path from x to f and adds 1.",
               3: "That is what an engine gets when a backward step overwrites x.grad (=) instead of adding to "
                  "it (+=): the last share wins.",
               1: "That is the + x path only; x * x contributes 2x as well.",
               12: "That is the value of f, not its derivative."}),
    "10.q2": Question(
        "A", see="section 2",
        why="In reverse topological order every node that uses a value runs before it, so the value's gradient "
            "holds all its shares when it is passed on; section 2 shows the wrong results otherwise.",
        hints={"B": "The inputs are where the gradients end up, so they are finished last, not first.",
               "C": "The explicit stack only avoids the recursion limit while computing the order; it is not why "
                    "the order is needed.",
               "D": "The sums do commute, but a node passes its gradient on in one go. Passed on before all "
                    "shares have arrived, it sends an incomplete value (section 2 gets 27 and 36 instead of 12)."}),
    "10.q3": Question(
        4, see="section 5",
        why="b[0] is added to all 4 rows, each of which sends back a gradient of 1; the backward pass of a "
            "broadcast sums over the broadcast axis: 1 + 1 + 1 + 1 = 4.",
        hints={1: "That is the gradient of one entry of A. b[0] is used in every row, and the shares add.",
               12: "Sum only over the broadcast axis (the 4 rows), which leaves one number per entry of b; 12 sums "
                   "over everything."}),
    "10.q4": Question(
        100 * (3 * 100 - 1), tolerance=0, see="section 6",
        why="f has 3n - 1 = 299 operations, and forward mode runs all of them once per input: 100 x 299 = 29,900.",
        hints={2 * (3 * 100 - 1): "That is reverse mode: one forward pass and one backward pass.",
               3 * 100 - 1: "That is one forward-mode sweep, which gives the derivative for one input only.",
               3 * 100 * 100: "f has 3n - 1 operations, not 3n: n tanh, n products and n - 1 sums."}),
    "10.q5": Question(
        "B", see="section 6",
        why="A Jacobian costs one forward sweep per input (3 here) or one backward pass per output (10,000): "
            "with few inputs and many outputs, forward mode is far cheaper.",
        hints={"A": "Reverse mode gives one output's gradient (one row of the Jacobian) per backward pass; that "
                    "is 10,000 passes here.",
               "C": "The result is the same, the cost is not: 3 sweeps against 10,000 backward passes.",
               "D": "Forward mode handles any number of outputs, and reverse mode can run once per output."}),
    "10.q6": Question(
        2 * 68, see="section 4.2",
        why="The weights are inputs of the graph, and inputs accumulate: the second backward() adds another "
            "dE/dw5 = 68 to the first. That is why a training step starts with zero_grad.",
        hints={68: "That is dE/dw5 itself, after one call. The engine does not reset the weights' gradients.",
               0: "backward() does not clear the weights' gradients before adding; it only resets intermediate "
                  "nodes."}),

    # --- lesson 11: a GPT from scratch ---------------------------------------------------------------------
    "11.q1": Question(
        1024 * 128 + 128 * 128 + 4 * (12 * 128 ** 2 + 13 * 128) + 2 * 128, tolerance=0, see="section 6",
        why="N = V d + n_ctx d + L (12 d^2 + 13 d) + 2 d = 131,072 + 16,384 + 4 x 198,272 + 256 = 940,800.",
        hints={1024 * 128 + 128 * 128 + 4 * (12 * 128 ** 2 + 13 * 128) + 2 * 128 + 1024 * 128:
               "The output projection is tied to the token embedding, so the V x d matrix is counted once.",
               4 * (12 * 128 ** 2 + 13 * 128): "That is the blocks only; add the two embeddings and the final layer "
                                               "norm.",
               1024 * 128 + 128 * 128 + 4 * (12 * 128 ** 2 + 13 * 128): "Add the final layer norm: a scale and a "
                                                                         "shift of d numbers each.",
               1024 * 128 + 128 * 128 + 4 * 12 * 128 ** 2 + 2 * 128: "12 d^2 counts the weight matrices; a block also "
                                                                     "has 13 d biases and layer-norm parameters."}),
    "11.q2": Question(
        True, see="section 4.2",
        why="d_x = (g - mean(g) - x_hat mean(g x_hat)) / s with g = G gamma; its sum over a row is "
            "d (mean(g) - mean(g) - mean(x_hat) mean(g x_hat)) / s = 0, because x_hat has mean 0. Shifting every "
            "input of a row by the same amount does not change the output, so the gradient has no component along "
            "(1, ..., 1).",
        hints={False: "Write out the sum over the row of the formula in section 4.2 and use that x_hat has mean 0 "
                      "over the row."}),
    "11.q3": Question(
        0.5, see="section 4.3",
        why="GELU(x) = x Phi(x), so GELU'(0) = Phi(0) + 0 = 1/2; in the tanh form, 0.5 (1 + tanh 0) + 0 = 0.5.",
        hints={0: "0 is GELU(0), the value of the function; the question asks for its slope.",
               1: "1 is the slope of ReLU for positive inputs (and of GELU far to the right); at 0 GELU is "
                  "halfway between its slopes 0 on the left and 1 on the right."}),
    "11.q4": Question(
        3.0 / (2.5 * math.log(2)), tolerance=0.01, see="section 3",
        why="bits per byte = nats per token / (bytes per token x ln 2) = 3.0 / (2.5 x 0.693) = 1.73.",
        hints={3.0 / 2.5: "1.2 is in nats per byte; divide by ln 2 to get bits.",
               3.0 / math.log(2): "That is bits per token; each token holds 2.5 bytes, so divide by 2.5 as well.",
               3.0 * 2.5 / math.log(2): "A token covers 2.5 bytes, so the loss per byte is smaller than per token: "
                                        "divide by 2.5, do not multiply."}),
    "11.q5": Question(
        "B", see="section 7",
        why="QK^T and AV are products of activations with activations: 2 n d FLOPs each per token and block forward, "
            "12 L n d in training, with no parameter behind them. 6N only counts products with weights.",
        hints={"A": "Section 7 measures the backward pass at exactly twice the forward pass.",
               "C": "The position embedding is only looked up and added; that is why 6N over-counts it.",
               "D": "Adam's update is elementwise, and the count in section 7 does not include it."}),
    "11.q6": Question(
        3 * 2 * 4 * 64 * 64, tolerance=0, see="section 7",
        why="Forward, per token and block: 2 n d for Q K^T and 2 n d for A V, over all heads together. Backward doubles "
            "it, so 12 L n d = 12 x 2 x 64 x 64 = 98,304.",
        hints={2 * 4 * 64 * 64: "That is the forward pass only; the backward pass costs twice as much again.",
               6 * 2 * 64 * 64: "That is half the answer: count both blocks and the full n x n scores (this code "
                                "computes the masked half too)."}),

    # --- lesson 12: from a pretrained model to an assistant --------------------------------------------------
    "12.q1": Question(
        1 / (1 + math.exp(-1.0)), see="section 2.1",
        why="P(A preferred) = sigma(r_A - r_B) = sigma(1.0) = 1 / (1 + e^-1) = 0.731.",
        hints={1.2 / (1.2 + 0.2): "Bradley-Terry compares exp(r_A) with exp(r_B), not r_A with r_B: the "
                                  "probability is sigma(r_A - r_B).",
               0.5: "0.5 would mean the two rewards are equal; here A's is higher by 1.",
               1.0: "The reward difference is 1, but the probability is the sigmoid of that difference."}),
    "12.q2": Question(
        "A", see="sections 2.1 and 3.3",
        why="Preferences depend on reward differences only, and the optimal policy pi_ref exp(r / beta) / Z is "
            "unchanged too: the common factor exp(5 / beta) cancels in the normalisation.",
        hints={"B": "Write out pi_ref exp((r + 5) / beta) / Z: the extra factor is the same for every response and "
                    "cancels.",
               "C": "sigma(r_A - r_B) only sees the difference, and adding 5 to both leaves it as it was.",
               "D": "The probabilities of the optimal policy still sum to 1, so not all of them can grow."}),
    "12.q3": Question(
        math.exp(2.0) / (math.exp(2.0) + 1), see="section 3.3",
        why="pi* is proportional to pi_ref exp(r / beta): 0.5 e^2 against 0.5 e^0, so e^2 / (e^2 + 1) = 0.881.",
        hints={1 / (1 + math.exp(-0.5)): "That multiplies the reward by beta; the optimum divides it by beta, "
                                         "exp(r / beta).",
               1 / (1 + math.exp(-1.0)): "That is the answer for beta = 1; divide the rewards by beta = 0.5.",
               1.0: "Only beta -> 0 puts all the probability on the better response."}),
    "12.q4": Question(
        "C", see="section 3.4",
        why="With no penalty the optimum puts everything on the highest fitted reward, the rambling answer: the "
            "reward model's score peaks while the judges' reward drops below the reference policy's.",
        hints={"A": "That is the limit beta -> infinity: a strong penalty keeps the policy at the reference.",
               "B": "The policy only sees the reward model, and the reward model's favourite is not the judges'.",
               "D": "A small beta makes the policy more concentrated, not flatter: beta acts like a temperature."}),
    "12.q5": Question(
        0.9 ** 20, see="section 5",
        why="All 20 tokens must be right: 0.9^20 = 0.122.",
        hints={0.9: "That is the per-token accuracy; an exact match needs every one of the 20 tokens right.",
               18: "That is the expected number of right tokens, a partial-credit metric; exact match needs all 20.",
               1 - 0.9 ** 20: "That is the probability that at least one token is wrong."}),
    "12.q6": Question(
        10 ** -0.34, see="section 6.1",
        why="A / (10 N)^alpha = 10^-alpha x A / N^alpha, and 10^-0.34 = 0.457, whatever N is.",
        hints={0.1: "That would need alpha = 1; the fitted exponent is 0.34.",
               10 ** -0.28: "0.28 is the exponent of the data term; the parameter term has alpha = 0.34.",
               1 - 10 ** -0.34: "That is the fraction of the term that is removed; the question asks for the factor "
                                "it is multiplied by."}),
    "12.q7": Question(
        140, see="section 6.3",
        why="16 bits are 2 bytes per parameter: 70e9 x 2 = 140e9 bytes = 140 GB, too much for one 80-GB GPU.",
        hints={280: "That is 32-bit precision, 4 bytes per parameter.",
               70: "That is one byte per parameter (8 bits); 16 bits are two bytes.",
               35: "That is 4-bit precision, half a byte per parameter."}),
}
