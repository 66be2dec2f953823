"""Probes of part 1 (softmax_attention, NumPy): similarity, softmax, both attentions."""

from tests.probes import Probes
from tests.probes.inputs import array

PROBES = Probes()


@PROBES.add
def similarity_of_three_words_of_four_features(m):
    return m.similarity_matrix(array(1, 3, 4))


@PROBES.add
def similarity_of_four_words_of_two_features(m):
    return m.similarity_matrix(array(2, 4, 2))


@PROBES.add
def softmax_of_rows(m):
    return m.softmax(array(3, 3, 4, scale=2.0))


@PROBES.add
def softmax_over_axis_0(m):
    return m.softmax(array(4, 3, 4, scale=2.0), axis=0)


@PROBES.add
def softmax_over_the_middle_axis(m):
    return m.softmax(array(5, 2, 3, 4), axis=1)


@PROBES.add
def softmax_of_a_vector(m):
    return m.softmax(array(6, 5))


@PROBES.add
def softmax_of_large_inputs(m):
    return m.softmax(array(7, 2, 4, scale=1e4))


@PROBES.add
def softmax_of_rows_far_apart(m):
    x = array(8, 3, 4)
    x[1] += 2000.0
    x[2] -= 2000.0
    return m.softmax(x)


@PROBES.add
def softmax_of_a_scalar(m):
    return m.softmax(array(9, 1)[0])


@PROBES.add
def softmax_with_an_axis_out_of_range(m):
    return m.softmax(array(10, 2, 3), axis=2)


@PROBES.add
def basic_attention_of_three_words(m):
    return m.basic_self_attention(array(11, 3, 4))


@PROBES.add
def basic_attention_of_four_words_of_two_features(m):
    return m.basic_self_attention(array(12, 4, 2))


@PROBES.add
def separated_attention(m):
    return m.separated_self_attention(array(13, 4, 3), array(14, 3, 2), array(15, 3, 5))


@PROBES.add
def separated_attention_with_square_projections(m):
    return m.separated_self_attention(array(16, 3, 3), array(17, 3, 3), array(18, 3, 3))


@PROBES.add
def similarity_of_a_vector(m):
    return m.similarity_matrix(array(19, 4))
