"""Part 9 (tasks): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

MISTAKES = [
    # ------------------------------------------------------------ Vocabulary
    Edit(
        "content_ids_start_at_0",
        (
            (
                "self.symbols: tuple[str, ...] = (*SPECIALS, *symbols)",
                "self.symbols: tuple[str, ...] = tuple(symbols)",
            ),
        ),
        "the content symbols get the ids 0, 1, 2, ...: the first symbol (the digit 0) shares "
        "its id with PAD, the next ones with BOS and EOS",
    ),
    edit(
        "specials_after_content",
        "self.symbols: tuple[str, ...] = (*SPECIALS, *symbols)",
        "self.symbols: tuple[str, ...] = (*symbols, *SPECIALS)",
        "the special tokens are put after the content symbols: the first symbols take the "
        "ids 0, 1, 2 that pad_id, bos_id and eos_id hold",
    ),
    edit(
        "specials_not_counted_in_len",
        "        return len(self.symbols)\n",
        "        return len(self.symbols) - 3\n",
        "len(vocabulary) counts the content symbols only, not PAD, BOS and EOS",
    ),
    edit(
        "repeated_symbol_accepted",
        """            if symbol in self._ids:
                raise ValueError(f"symbol {symbol!r} appears twice (or is a special token)")
""",
        "",
        "a repeated symbol is not refused: its second id silently replaces the first",
    ),
    Edit(
        "special_name_accepted_as_symbol",
        (
            (
                "        self._ids: dict[str, int] = {}\n",
                "        self._ids: dict[str, int] = {}\n"
                "        if len(set(symbols)) != len(symbols):\n"
                '            raise ValueError("a symbol appears twice")\n',
            ),
            (
                """            if symbol in self._ids:
                raise ValueError(f"symbol {symbol!r} appears twice (or is a special token)")
""",
                "",
            ),
        ),
        "only repeats among the content symbols are refused: a symbol called '<pad>' or "
        "'<eos>' is accepted and steals the special token's id",
    ),
    edit(
        "empty_symbol_accepted",
        "if not isinstance(symbol, str) or not symbol:",
        "if not isinstance(symbol, str):",
        "an empty string is accepted as a symbol",
    ),
    edit(
        "non_string_symbol_accepted",
        "if not isinstance(symbol, str) or not symbol:",
        "if not symbol:",
        "a symbol that is not a string (the int 3) is accepted",
    ),
    edit(
        "unknown_symbol_gives_none",
        """        if symbol not in self._ids:
            raise ValueError(f"unknown symbol {symbol!r}")
        return self._ids[symbol]""",
        "        return self._ids.get(symbol)",
        "id_of returns None for an unknown symbol instead of raising ValueError",
    ),
    edit(
        "symbol_of_without_range_check",
        """        if not 0 <= token_id < len(self.symbols):
            raise ValueError(f"no symbol has id {token_id} (vocabulary of {len(self)} ids)")
""",
        "",
        "symbol_of indexes the symbol list directly: id -1 gives the last symbol and a large id "
        "an IndexError",
    ),
    edit(
        "symbol_of_off_by_one_range",
        "if not 0 <= token_id < len(self.symbols):",
        "if not 0 <= token_id <= len(self.symbols):",
        "symbol_of accepts the id len(vocabulary), one past the last (IndexError, not ValueError)",
    ),
    edit(
        "encode_ignores_bos_eos",
        "return [self.bos_id] * bos + ids + [self.eos_id] * eos",
        "return ids",
        "encode ignores bos=True and eos=True: the target has no BOS in front, no EOS at the end",
    ),
    edit(
        "encode_swaps_bos_eos",
        "return [self.bos_id] * bos + ids + [self.eos_id] * eos",
        "return [self.eos_id] * eos + ids + [self.bos_id] * bos",
        "encode puts EOS in front and BOS at the end",
    ),
    edit(
        "encode_always_frames",
        "return [self.bos_id] * bos + ids + [self.eos_id] * eos",
        "return [self.bos_id] + ids + [self.eos_id]",
        "encode always adds BOS and EOS, even when bos and eos are False (the source too)",
    ),
    edit(
        "decode_does_not_stop_at_eos",
        """            if token_id == self.eos_id:
                break
            if token_id not in (self.pad_id, self.bos_id):""",
        """            if token_id not in (self.pad_id, self.bos_id, self.eos_id):""",
        "decode skips EOS instead of stopping there: what the model wrote after it is read",
    ),
    edit(
        "decode_keeps_pad",
        "if token_id not in (self.pad_id, self.bos_id):",
        "if token_id != self.bos_id:",
        "decode skips BOS but decodes PAD as the symbol '<pad>'",
    ),
    edit(
        "decode_keeps_bos",
        "if token_id not in (self.pad_id, self.bos_id):",
        "if token_id != self.pad_id:",
        "decode skips PAD but keeps '<bos>' at the start",
    ),
    edit(
        "decode_keeps_eos",
        """            if token_id == self.eos_id:
                break
            if token_id not in (self.pad_id, self.bos_id):
                out.append(self.symbol_of(token_id))""",
        """            if token_id not in (self.pad_id, self.bos_id):
                out.append(self.symbol_of(token_id))
            if token_id == self.eos_id:
                break""",
        "decode stops at EOS but keeps '<eos>' as the last symbol",
    ),
    edit(
        "decode_off_by_one",
        "out.append(self.symbol_of(token_id))",
        "out.append(self.symbol_of(token_id - 1))",
        "decode is off by one from encode (the textbook's digits encoded as d + 14 and "
        "decoded as id - 13)",
    ),
    # ------------------------------------------------------------ addition
    edit(
        "sum_without_carry_digit",
        'return source, tuple(f"{a + b:0{digits + 1}d}")',
        'return source, tuple(f"{a + b:0{digits}d}")',
        "the sum is zero-padded to digits digits, not digits + 1: no room kept for the carry",
    ),
    edit(
        "sum_least_significant_first",
        'return source, tuple(f"{a + b:0{digits + 1}d}")',
        'return source, tuple(f"{a + b:0{digits + 1}d}")[::-1]',
        "the sum is written least significant digit first (the example keeps the natural order)",
    ),
    edit(
        "operands_not_zero_padded",
        'source = (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}")',
        'source = (*str(a), "+", *str(b))',
        "the operands are not zero-padded to digits digits",
    ),
    edit(
        "sum_not_zero_padded",
        'return source, tuple(f"{a + b:0{digits + 1}d}")',
        "return source, tuple(str(a + b))",
        "the sum is not zero-padded: it has as many digits as it needs",
    ),
    edit(
        "operands_padded_on_the_right",
        'source = (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}")',
        'source = (*f"{a:0<{digits}d}", "+", *f"{b:0<{digits}d}")',
        "the operands are padded with zeros on the right (7 becomes 700)",
    ),
    edit(
        "operands_swapped",
        'source = (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}")',
        'source = (*f"{b:0{digits}d}", "+", *f"{a:0{digits}d}")',
        "the source is written b + a instead of a + b",
    ),
    edit(
        "operand_size_not_checked",
        """    for name, value in (("a", a), ("b", b)):
        if not 0 <= value < 10**digits:
            raise ValueError(f"{name} = {value} does not fit in {digits} digits")
""",
        "",
        "operands are not checked: one with more than digits digits, or a negative one, gives "
        "a longer source instead of a ValueError",
    ),
    edit(
        "operand_bound_off_by_one",
        "if not 0 <= value < 10**digits:",
        "if not 0 <= value <= 10**digits:",
        "the operand 10**digits (digits + 1 digits) is accepted",
    ),
    edit(
        "negative_operand_accepted",
        "if not 0 <= value < 10**digits:",
        "if value >= 10**digits:",
        "a negative operand is accepted",
    ),
    edit(
        "read_sum_without_checks",
        """    if not symbols or any(s not in DIGITS for s in symbols):
        return None
    return int("".join(symbols))""",
        """    return int("".join(symbols))""",
        "read_sum does not check its symbols: '+' or an empty answer raise instead of giving None",
    ),
    edit(
        "read_sum_reversed",
        'return int("".join(symbols))',
        'return int("".join(reversed(symbols)))',
        "read_sum reads the digits least significant first",
    ),
    edit(
        "read_sum_empty_is_zero",
        """    if not symbols or any(s not in DIGITS for s in symbols):
        return None
    return int("".join(symbols))""",
        """    if any(s not in DIGITS for s in symbols):
        return None
    return int("".join(symbols) or "0")""",
        "read_sum reads an empty answer as 0 instead of None",
    ),
    # ------------------------------------------------------------ parse
    edit(
        "right_associative",
        "            tree = (label, tree, operand())",
        "            tree = (label, tree, binary(operand, operators))",
        "the right operand is parsed recursively: 1-2-3 becomes 1-(2-3) (right-associative)",
    ),
    Edit(
        "precedence_swapped",
        (
            ('return binary(factor, "*/")', 'return binary(factor, "+-")'),
            ('return binary(term, "+-")', 'return binary(term, "*/")'),
        ),
        "+ and - bind tighter than * and /",
    ),
    edit(
        "one_precedence_level",
        'return binary(term, "+-")',
        'return binary(factor, "+-*/")',
        "all four operators have one precedence: 1+2*3 is read as (1+2)*3",
    ),
    edit(
        "no_parentheses",
        """        if peek() == "(":
            take("(", "'('")
            inner = expression()
            take(")", "')'")
            return inner
""",
        "",
        "factor does not accept parentheses",
    ),
    edit(
        "parenthesis_holds_a_term",
        "            inner = expression()",
        "            inner = term()",
        "inside parentheses only a term is read: (1+2) is refused",
    ),
    edit(
        "parentheses_kept_as_node",
        "            return inner",
        '            return ("PAREN", inner)',
        "parentheses are kept in the tree as a node of their own",
    ),
    edit(
        "error_names_token_index",
        """            symbol, position = tokens[at]
            return ValueError(f"expected {expected} at position {position}, found {symbol!r}")""",
        """            symbol, position = tokens[at]
            return ValueError(f"expected {expected} at position {at}, found {symbol!r}")""",
        "the error names the index of the token, not of the character in the text (wrong "
        "when there are spaces)",
    ),
    edit(
        "end_position_counts_tokens",
        'return ValueError(f"expected {expected} at position {len(text)}, found the end")',
        'return ValueError(f"expected {expected} at position {len(tokens)}, found the end")',
        "when the text ends too early the error names the number of tokens, not len(text)",
    ),
    edit(
        "end_position_is_last_character",
        'return ValueError(f"expected {expected} at position {len(text)}, found the end")',
        'return ValueError(f"expected {expected} at position {len(text) - 1}, found the end")',
        "when the text ends too early the error names its last character, not len(text)",
    ),
    edit(
        "trailing_tokens_ignored",
        """    if at < len(tokens):
        raise error("an operator or the end")
""",
        "",
        "parse stops after the expression and ignores what follows ('x=1+2)' is accepted)",
    ),
    edit(
        "assigned_to_any_operand",
        'target = take(VARIABLES, "a variable")',
        "target = factor()",
        "the left of '=' may be any operand: '1=2' is accepted",
    ),
    edit(
        "error_without_position",
        """            symbol, position = tokens[at]
            return ValueError(f"expected {expected} at position {position}, found {symbol!r}")""",
        """            symbol, position = tokens[at]
            return ValueError(f"expected {expected}, found {symbol!r}")""",
        "the error says what was expected but not at which position",
    ),
    # ------------------------------------------------------------ tree_to_tokens
    edit(
        "infix_linearisation",
        "    return [label] + [token for child in children for token in tree_to_tokens(child)]",
        "    left, right = (tree_to_tokens(child) for child in children)\n"
        "    return left + [label] + right",
        "the tree is written in infix order (left, label, right), which cannot be read back "
        "without brackets",
    ),
    edit(
        "postfix_linearisation",
        "    return [label] + [token for child in children for token in tree_to_tokens(child)]",
        "    return [token for child in children for token in tree_to_tokens(child)] + [label]",
        "the tree is written in postfix order (children, then the label)",
    ),
    edit(
        "single_number_node_dropped",
        "    label, *children = tree\n",
        "    label, *children = tree\n"
        "    children = [c for c in children if not (label == ASSIGN and c in DIGITS)]\n",
        "a statement whose right-hand side is a single number loses that number (the "
        "textbook's flattening: ('ASSIGN', 'y', '5') gives ['ASSIGN', 'y'])",
    ),
    edit(
        "children_reversed",
        "for child in children for token in tree_to_tokens(child)]",
        "for child in reversed(children) for token in tree_to_tokens(child)]",
        "the right child is written before the left one",
    ),
    edit(
        "brackets_in_linearisation",
        "    return [label] + [token for child in children for token in tree_to_tokens(child)]",
        "    inner = [t for child in children for t in tree_to_tokens(child)]\n"
        '    return ["(", label, *inner, ")"]',
        "every node is wrapped in '(' and ')' tokens",
    ),
    # ------------------------------------------------------------ tokens_to_tree
    edit(
        "leftover_tokens_ignored",
        """    if at != len(tokens):
        raise ValueError(f"{len(tokens) - at} token(s) left over after the tree ends")
""",
        "",
        "tokens left over after the tree ends are ignored",
    ),
    edit(
        "assign_not_checked",
        "if len(tokens) < 2 or tokens[0] != ASSIGN or tokens[1] not in VARIABLES:",
        "if len(tokens) < 2 or tokens[1] not in VARIABLES:",
        "the first token is not checked to be ASSIGN",
    ),
    edit(
        "assigned_variable_not_checked",
        "if len(tokens) < 2 or tokens[0] != ASSIGN or tokens[1] not in VARIABLES:",
        "if len(tokens) < 2 or tokens[0] != ASSIGN:",
        "the token after ASSIGN is not checked to be a variable",
    ),
    edit(
        "any_token_is_a_leaf",
        """        if token in DIGITS or token in VARIABLES:
            return token
        raise ValueError(f"token {at - 1} ({token!r}) cannot appear in an expression tree")""",
        "        return token",
        "every token that is not an operator label is taken as a leaf ('+', '(' and 'ASSIGN' "
        "included)",
    ),
    edit(
        "missing_operand_index_error",
        """        if at >= len(tokens):
            raise ValueError(f"an operand is missing at token {at}")
""",
        "",
        "a missing operand raises IndexError instead of ValueError",
    ),
    edit(
        "children_read_swapped",
        "            return (token, left, read())",
        "            return (token, read(), left)",
        "the first operand read is stored as the right child",
    ),
    edit(
        "assign_counts_as_operator",
        "        if token in PRECEDENCE:",
        "        if token in (*PRECEDENCE, ASSIGN):",
        "ASSIGN is read as one more binary operator inside an expression",
    ),
    # ------------------------------------------------------------ batches
    edit(
        "pad_at_the_front",
        "batch[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)",
        "batch[row, width - len(sequence) :] = torch.as_tensor(list(sequence), dtype=torch.long)",
        "pad_batch puts the padding in front of each sequence instead of after it",
    ),
    edit(
        "pad_with_zero",
        "batch = torch.full((len(sequences), width), pad_id, dtype=torch.long)",
        "batch = torch.zeros((len(sequences), width), dtype=torch.long)",
        "pad_batch fills with 0 whatever pad_id is",
    ),
    edit(
        "float_batch",
        "batch = torch.full((len(sequences), width), pad_id, dtype=torch.long)",
        "batch = torch.full((len(sequences), width), float(pad_id))",
        "pad_batch returns a float tensor, not int64 token ids",
    ),
    edit(
        "width_of_first_sequence",
        "width = max(len(s) for s in sequences)",
        "width = len(sequences[0])",
        "the batch is as wide as the first sequence, not the longest",
    ),
    edit(
        "shifted_the_wrong_way",
        """    labels = target[:, 1:].masked_fill(target[:, 1:] == pad_id, -100)
    return target[:, :-1], labels""",
        """    labels = target[:, :-1].masked_fill(target[:, :-1] == pad_id, -100)
    return target[:, 1:], labels""",
        "teacher forcing is shifted the wrong way: the inputs drop the first column and the "
        "labels the last",
    ),
    edit(
        "padding_not_ignored",
        "labels = target[:, 1:].masked_fill(target[:, 1:] == pad_id, -100)",
        "labels = target[:, 1:]",
        "the labels keep the padding instead of -100: the loss is also trained to predict PAD",
    ),
    edit(
        "ignores_token_0_not_pad",
        "labels = target[:, 1:].masked_fill(target[:, 1:] == pad_id, -100)",
        "labels = target[:, 1:].masked_fill(target[:, 1:] == 0, -100)",
        "the labels are masked where the id is 0, not where it is pad_id",
    ),
    edit(
        "inputs_masked_too",
        "    return target[:, :-1], labels",
        "    return target[:, :-1].masked_fill(target[:, :-1] == pad_id, -100), labels",
        "the decoder inputs get -100 at padding too (an id the embedding cannot look up)",
    ),
    edit(
        "labels_masked_in_place",
        """    labels = target[:, 1:].masked_fill(target[:, 1:] == pad_id, -100)
    return target[:, :-1], labels""",
        """    labels = target[:, 1:]
    labels[labels == pad_id] = -100
    return target[:, :-1], labels""",
        "the labels are masked in place in a view of target, so the decoder inputs get -100 too",
    ),
    edit(
        "same_length_no_shift",
        "    return target[:, :-1], labels",
        "    return target[:, 1:], labels",
        "the inputs are the labels' own columns: the decoder reads the token it must predict",
    ),
    # ------------------------------------------------------------ metrics
    edit(
        "exact_match_compares_prefix",
        "return sum(list(p) == list(e) for p, e in zip(predicted, expected, strict=True))",
        "return sum(list(p)[: len(e)] == list(e) "
        "for p, e in zip(predicted, expected, strict=True))",
        "exact_match only compares the first len(expected) predicted symbols: extra symbols "
        "are not counted against it",
    ),
    edit(
        "exact_match_zip_compare",
        "return sum(list(p) == list(e) for p, e in zip(predicted, expected, strict=True))",
        "return sum(all(a == b for a, b in zip(p, e)) for p, e in zip(predicted, expected))",
        "exact_match compares the symbols pairwise with zip: a prediction cut short or too "
        "long counts as exact",
    ),
    edit(
        "exact_match_compares_types",
        "return sum(list(p) == list(e) for p, e in zip(predicted, expected, strict=True))",
        "return sum(p == e for p, e in zip(predicted, expected, strict=True))",
        "exact_match compares p == e directly: a tuple prediction never equals a list answer",
    ),
    edit(
        "exact_match_count_not_fraction",
        "strict=True)) / len(expected)",
        "strict=True))",
        "exact_match returns the number of exact predictions, not the fraction",
    ),
    edit(
        "digit_accuracy_mean_of_examples",
        """        right += sum(i < len(p) and p[i] == symbol for i, symbol in enumerate(e))
        total += len(e)
    return right / total""",
        """        hits = sum(i < len(p) and p[i] == symbol for i, symbol in enumerate(e))
        right += hits / len(e)
        total += 1
    return right / total""",
        "digit_accuracy averages the per-example accuracies instead of counting over all "
        "expected symbols",
    ),
    edit(
        "digit_accuracy_over_predicted_length",
        "        total += len(e)",
        "        total += len(p)",
        "digit_accuracy divides by the number of predicted symbols, not expected ones",
    ),
    edit(
        "digit_accuracy_extra_symbols_cost",
        "        total += len(e)",
        "        total += max(len(p), len(e))",
        "extra predicted symbols count as wrong in digit_accuracy",
    ),
    edit(
        "digit_accuracy_aligned_right",
        "right += sum(i < len(p) and p[i] == symbol for i, symbol in enumerate(e))",
        "right += sum(a == b for a, b in zip(reversed(p), reversed(e)))",
        "digit_accuracy lines the prediction up with the answer from the last digit",
    ),
    edit(
        "digit_accuracy_short_prediction_skipped",
        "        total += len(e)",
        "        total += min(len(p), len(e))",
        "missing predicted symbols are left out of digit_accuracy instead of counting as wrong",
    ),
]

VARIANTS = [
    Edit(
        "vocabulary_with_lists_and_dict_comprehension",
        (
            (
                """        self.symbols: tuple[str, ...] = (*SPECIALS, *symbols)
        self._ids: dict[str, int] = {}
        for index, symbol in enumerate(self.symbols):
            if not isinstance(symbol, str) or not symbol:
                raise ValueError(f"symbols must be non-empty strings, got {symbol!r}")
            if symbol in self._ids:
                raise ValueError(f"symbol {symbol!r} appears twice (or is a special token)")
            self._ids[symbol] = index""",
                """        symbols = list(symbols)
        for symbol in symbols:
            if type(symbol) is not str or len(symbol) == 0:
                raise ValueError(f"bad symbol {symbol!r}")
        every = [PAD, BOS, EOS] + symbols
        if len(set(every)) < len(every):
            raise ValueError("symbols must be distinct and not PAD, BOS or EOS")
        self.itos = every
        self.stoi = {symbol: index for index, symbol in enumerate(every)}""",
            ),
            ("        return len(self.symbols)\n", "        return len(self.itos)\n"),
            (
                """        if symbol not in self._ids:
            raise ValueError(f"unknown symbol {symbol!r}")
        return self._ids[symbol]""",
                """        try:
            return self.stoi[symbol]
        except KeyError:
            raise ValueError(f"{symbol!r} is not in the vocabulary") from None""",
            ),
            (
                """        if not 0 <= token_id < len(self.symbols):
            raise ValueError(f"no symbol has id {token_id} (vocabulary of {len(self)} ids)")
        return self.symbols[token_id]""",
                """        if token_id < 0 or token_id >= len(self.itos):
            raise ValueError(f"id {token_id} is out of range")
        return self.itos[token_id]""",
            ),
            (
                """        ids = [self.id_of(symbol) for symbol in symbols]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos""",
                """        ids = []
        if bos:
            ids.append(self.bos_id)
        ids.extend(map(self.id_of, symbols))
        if eos:
            ids.append(self.eos_id)
        return ids""",
            ),
            (
                """        out = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id == self.eos_id:
                break
            if token_id not in (self.pad_id, self.bos_id):
                out.append(self.symbol_of(token_id))
        return out""",
                """        ids = [int(i) for i in ids]
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return [self.symbol_of(i) for i in ids if i != self.pad_id and i != self.bos_id]""",
            ),
        ),
        "Vocabulary with itos/stoi names, a set for the repeats, try/except for unknown "
        "symbols, append/extend in encode and index-of-EOS slicing in decode",
    ),
    Edit(
        "addition_with_zfill_and_digit_loop",
        (
            (
                """    for name, value in (("a", a), ("b", b)):
        if not 0 <= value < 10**digits:
            raise ValueError(f"{name} = {value} does not fit in {digits} digits")
    source = (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}")
    return source, tuple(f"{a + b:0{digits + 1}d}")""",
                """    if a < 0 or b < 0 or len(str(a)) > digits or len(str(b)) > digits:
        raise ValueError(f"operands a={a}, b={b} must have at most {digits} digits")
    source = tuple(str(a).zfill(digits)) + ("+",) + tuple(str(b).zfill(digits))
    target = tuple(str(a + b).zfill(digits + 1))
    return source, target""",
            ),
            (
                """    if not symbols or any(s not in DIGITS for s in symbols):
        return None
    return int("".join(symbols))""",
                """    if len(symbols) == 0:
        return None
    value = 0
    for symbol in symbols:
        if symbol not in "0123456789" or len(symbol) != 1:
            return None
        value = 10 * value + "0123456789".index(symbol)
    return value""",
            ),
        ),
        "addition with str.zfill and a length test; read_sum accumulates the digits in a loop",
    ),
    Edit(
        "parse_by_precedence_climbing",
        (
            (
                """    def binary(operand: Callable[[], Tree], operators: str) -> Tree:
        # A loop, not recursion on the right: that is what makes the operators left-associative.
        tree = operand()
        while peek() is not None and peek() in operators:
            label = OPERATORS[take(operators, "an operator")]
            tree = (label, tree, operand())
        return tree
""",
                "",
            ),
            (
                """    def term() -> Tree:
        return binary(factor, "*/")

    def expression() -> Tree:
        return binary(term, "+-")
""",
                """    def expression(min_precedence: int = 1) -> Tree:
        tree = factor()
        while peek() in OPERATORS and PRECEDENCE[OPERATORS[peek()]] >= min_precedence:
            label = OPERATORS[take(tuple(OPERATORS), "an operator")]
            tree = (label, tree, expression(PRECEDENCE[label] + 1))
        return tree
""",
            ),
        ),
        "parse by precedence climbing (one loop over the operators, the right operand parsed "
        "at the next precedence) instead of one function per level",
    ),
    Edit(
        "trees_with_explicit_stack_and_iterator",
        (
            (
                """    if isinstance(tree, str):
        return [tree]
    label, *children = tree
    return [label] + [token for child in children for token in tree_to_tokens(child)]""",
                """    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if type(node) is str:
            out.append(node)
        else:
            out.append(node[0])
            stack.extend(reversed(node[1:]))
    return out""",
            ),
            (
                """    at = 2

    def read() -> Tree:
        nonlocal at
        if at >= len(tokens):
            raise ValueError(f"an operand is missing at token {at}")
        token = tokens[at]
        at += 1
        if token in PRECEDENCE:
            left = read()
            return (token, left, read())
        if token in DIGITS or token in VARIABLES:
            return token
        raise ValueError(f"token {at - 1} ({token!r}) cannot appear in an expression tree")

    tree = (ASSIGN, tokens[1], read())
    if at != len(tokens):
        raise ValueError(f"{len(tokens) - at} token(s) left over after the tree ends")
    return tree""",
                """    rest = iter(tokens[2:])

    def read() -> Tree:
        token = next(rest, None)
        if token is None:
            raise ValueError("the tree ends before an operand")
        if token in ("ADD", "SUB", "MUL", "DIV"):
            return (token, read(), read())
        if token not in DIGITS + VARIABLES:
            raise ValueError(f"{token!r} is not a label, a digit or a variable")
        return token

    tree = (ASSIGN, tokens[1], read())
    if next(rest, None) is not None:
        raise ValueError("tokens are left over after the tree")
    return tree""",
            ),
        ),
        "tree_to_tokens with an explicit stack; tokens_to_tree reads from an iterator with "
        "(label, read(), read())",
    ),
    Edit(
        "batches_with_pad_sequence_and_where",
        (
            (
                """    width = max(len(s) for s in sequences)
    batch = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
    return batch""",
                """    rows = [torch.tensor(list(s), dtype=torch.int64) for s in sequences]
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad_id)""",
            ),
            (
                """    labels = target[:, 1:].masked_fill(target[:, 1:] == pad_id, -100)
    return target[:, :-1], labels""",
                """    inputs = target[:, : target.size(1) - 1].clone()
    following = target[:, 1:]
    labels = torch.where(following != pad_id, following, torch.full_like(following, -100))
    return inputs, labels""",
            ),
        ),
        "pad_batch with pad_sequence(batch_first=True); teacher_forcing with torch.where and a "
        "cloned slice",
    ),
    Edit(
        "metrics_with_tuples_and_zip",
        (
            (
                "return sum(list(p) == list(e) for p, e in zip(predicted, expected, strict=True)) "
                "/ len(expected)",
                "hits = [tuple(p) == tuple(e) for p, e in zip(predicted, expected)]\n"
                "    return sum(hits) / len(hits)",
            ),
            (
                """    right = total = 0
    for p, e in zip(predicted, expected, strict=True):
        right += sum(i < len(p) and p[i] == symbol for i, symbol in enumerate(e))
        total += len(e)
    return right / total""",
                """    pairs = [(a, b) for p, e in zip(predicted, expected) for a, b in zip(p, e)]
    return sum(a == b for a, b in pairs) / sum(map(len, expected))""",
            ),
        ),
        "exact_match compares tuples; digit_accuracy counts with zip (which stops at the "
        "shorter sequence, so missing symbols are wrong and extra ones free)",
    ),
    Edit(
        "digits_by_arithmetic_and_comprehensions",
        (
            (
                """    source = (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}")
    return source, tuple(f"{a + b:0{digits + 1}d}")""",
                """    def spell(n: int, width: int) -> tuple[str, ...]:
        return tuple(DIGITS[n // 10**k % 10] for k in range(width - 1, -1, -1))

    return spell(a, digits) + ("+",) + spell(b, digits), spell(a + b, digits + 1)""",
            ),
            (
                """    width = max(len(s) for s in sequences)
    batch = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
    return batch""",
                """    width = max(map(len, sequences))
    rows = [[*s] + [pad_id] * (width - len(s)) for s in sequences]
    return torch.tensor(rows, dtype=torch.long)""",
            ),
            (
                """        out = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id == self.eos_id:
                break
            if token_id not in (self.pad_id, self.bos_id):
                out.append(self.symbol_of(token_id))
        return out""",
                """        import itertools

        kept = itertools.takewhile(lambda i: i != self.eos_id, map(int, ids))
        return [self.symbol_of(i) for i in kept if i not in {self.pad_id, self.bos_id}]""",
            ),
        ),
        "addition digits by integer arithmetic; pad_batch builds padded lists for torch.tensor; "
        "decode with itertools.takewhile",
    ),
    Edit(
        "parse_collects_then_folds_left",
        (
            (
                """        tree = operand()
        while peek() is not None and peek() in operators:
            label = OPERATORS[take(operators, "an operator")]
            tree = (label, tree, operand())
        return tree""",
                """        operands, labels = [operand()], []
        while peek() in tuple(operators):
            labels.append(OPERATORS[take(operators, "an operator")])
            operands.append(operand())
        tree = operands[0]
        for label, right in zip(labels, operands[1:]):
            tree = (label, tree, right)
        return tree""",
            ),
        ),
        "each precedence level collects its operands and operators, then folds them from the left",
    ),
]
