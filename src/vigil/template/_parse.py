"""Parser for Go's text/template, following Go's parse package: same grammar, same error messages."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from vigil.template._ast import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
    WithNode,
)
from vigil.template._fmt import go_quote
from vigil.template._lex import Lexer, Tok, Token


class ParseError(Exception):
    """A parse failure at a line; the template layer turns it into a TemplateError."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Tree:
    """One named template: its body and the source text its node positions refer to."""

    name: str
    root: ListNode
    text: str
    parse_name: str


_OPERAND_START = frozenset(
    {
        Tok.BOOL,
        Tok.CHAR_CONSTANT,
        Tok.DOT,
        Tok.FIELD,
        Tok.IDENTIFIER,
        Tok.NUMBER,
        Tok.NIL,
        Tok.RAW_STRING,
        Tok.STRING,
        Tok.VARIABLE,
        Tok.LEFT_PAREN,
    }
)


class Parser:
    """Parses one template text into trees (the main one plus each define/block) in a shared set."""

    def __init__(self, name: str, text: str, funcs: Container[str], trees: dict[str, Tree]) -> None:
        self.name = name
        self.text = text
        self.funcs = funcs
        self.trees = trees
        self.tokens = Lexer(text).tokenize()
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # Token stream.
    def _next(self) -> Token:
        tok = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        return tok

    def _backup(self, n: int = 1) -> None:
        self.i -= n

    def _peek(self) -> Token:
        return self.tokens[min(self.i, len(self.tokens) - 1)]

    def _next_non_space(self) -> Token:
        tok = self._next()
        while tok.typ is Tok.SPACE:
            tok = self._next()
        return tok

    def _peek_non_space(self) -> Token:
        save = self.i
        tok = self._next_non_space()
        self.i = save
        while self._peek().typ is Tok.SPACE:
            self.i += 1
        return tok

    def _error(self, message: str, tok: Token | None = None) -> ParseError:
        line = (tok or self.tokens[max(self.i - 1, 0)]).line
        return ParseError(message, line)

    def _unexpected(self, tok: Token, context: str) -> ParseError:
        if tok.typ is Tok.ERROR:
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self._error(tok.val + extra, tok)
        return self._error(f"unexpected {tok} in {context}", tok)

    def _expect(self, typ: Tok, context: str) -> Token:
        tok = self._next_non_space()
        if tok.typ is not typ:
            raise self._unexpected(tok, context)
        return tok

    # Grammar.
    def parse(self) -> None:
        """Parses the text, adding the main tree and every defined one to the shared set."""
        root = ListNode(self._peek().pos)
        while self._peek().typ is not Tok.EOF:
            if self._peek().typ is Tok.LEFT_DELIM:
                save = self.i
                self._next()
                if self._next_non_space().typ is Tok.DEFINE:
                    self._parse_definition()
                    continue
                self.i = save
            node = self._text_or_action()
            if isinstance(node, EndNode | ElseNode):
                raise self._error(f"unexpected {node}")
            root.nodes.append(node)
        self._add(self.name, root)

    def _add(self, name: str, root: ListNode) -> None:
        existing = self.trees.get(name)
        if existing is None or _is_empty(existing.root):
            self.trees[name] = Tree(name, root, self.text, self.name)
        elif not _is_empty(root):
            raise self._error(f"template: multiple definition of template {go_quote(name)}")

    def _parse_definition(self) -> None:
        context = "define clause"
        tok = self._next_non_space()
        if tok.typ not in (Tok.STRING, Tok.RAW_STRING):
            raise self._unexpected(tok, context)
        name = self._unquote(tok)
        self._expect(Tok.RIGHT_DELIM, context)
        outer_vars, self.vars = self.vars, ["$"]
        root, end = self._item_list()
        self.vars = outer_vars
        if not isinstance(end, EndNode):
            raise self._error(f"unexpected {end} in {context}")
        self._add(name, root)

    def _item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self._peek_non_space().pos)
        while self._peek_non_space().typ is not Tok.EOF:
            node = self._text_or_action()
            if isinstance(node, EndNode | ElseNode):
                return lst, node
            lst.nodes.append(node)
        raise self._error("unexpected EOF")

    def _text_or_action(self) -> Node:
        tok = self._next_non_space()
        if tok.typ is Tok.TEXT:
            return TextNode(tok.pos, tok.val)
        if tok.typ is Tok.LEFT_DELIM:
            self.action_line = tok.line
            try:
                return self._action()
            finally:
                self.action_line = 0
        raise self._unexpected(tok, "input")

    def _action(self) -> Node:
        tok = self._next_non_space()
        if tok.typ is Tok.BLOCK:
            return self._block_control()
        if tok.typ in (Tok.BREAK, Tok.CONTINUE):
            word = "break" if tok.typ is Tok.BREAK else "continue"
            nxt = self._next_non_space()
            if nxt.typ is not Tok.RIGHT_DELIM:
                raise self._unexpected(nxt, "{{" + word + "}}")
            if self.range_depth == 0:
                raise self._error("{{" + word + "}} outside {{range}}", tok)
            return BreakNode(tok.pos) if tok.typ is Tok.BREAK else ContinueNode(tok.pos)
        if tok.typ is Tok.ELSE:
            peek = self._peek_non_space()
            if peek.typ in (Tok.IF, Tok.WITH):
                return ElseNode(peek.pos)
            return ElseNode(self._expect(Tok.RIGHT_DELIM, "else").pos)
        if tok.typ is Tok.END:
            return EndNode(self._expect(Tok.RIGHT_DELIM, "end").pos)
        if tok.typ is Tok.IF:
            return self._control(IfNode, "if")
        if tok.typ is Tok.RANGE:
            return self._control(RangeNode, "range")
        if tok.typ is Tok.WITH:
            return self._control(WithNode, "with")
        if tok.typ is Tok.TEMPLATE:
            return self._template_control()
        self._backup()
        peek = self._peek()
        return ActionNode(peek.pos, self._pipeline("command", Tok.RIGHT_DELIM))

    def _control(self, cls: type[BranchNode], context: str) -> BranchNode:
        mark = len(self.vars)
        try:
            pipe = self._pipeline(context, Tok.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self._item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: ListNode | None = None
            if isinstance(nxt, ElseNode):
                if context in ("if", "with") and self._peek().typ is (
                    Tok.IF if context == "if" else Tok.WITH
                ):
                    self._next()
                    else_list = ListNode(nxt.pos, [self._control(cls, context)])
                else:
                    else_list, nxt = self._item_list()
                    if not isinstance(nxt, EndNode):
                        raise self._error(f"expected end; found {nxt}")
            return cls(pipe.pos, context, pipe, lst, else_list)
        finally:
            del self.vars[mark:]

    def _template_name(self, tok: Token, context: str) -> str:
        if tok.typ not in (Tok.STRING, Tok.RAW_STRING):
            raise self._unexpected(tok, context)
        return self._unquote(tok)

    def _template_control(self) -> TemplateNode:
        context = "template clause"
        tok = self._next_non_space()
        name = self._template_name(tok, context)
        pipe: PipeNode | None = None
        if self._next_non_space().typ is not Tok.RIGHT_DELIM:
            self._backup()
            pipe = self._pipeline(context, Tok.RIGHT_DELIM)
        return TemplateNode(tok.pos, name, pipe)

    def _block_control(self) -> TemplateNode:
        context = "block clause"
        tok = self._next_non_space()
        name = self._template_name(tok, context)
        pipe = self._pipeline(context, Tok.RIGHT_DELIM)
        outer_vars, self.vars = self.vars, ["$"]
        outer_depth, self.range_depth = self.range_depth, 0
        root, end = self._item_list()
        self.vars, self.range_depth = outer_vars, outer_depth
        if not isinstance(end, EndNode):
            raise self._error(f"unexpected {end} in {context}")
        self._add(name, root)
        return TemplateNode(tok.pos, name, pipe)

    def _pipeline(self, context: str, end: Tok) -> PipeNode:
        tok = self._peek_non_space()
        pipe = PipeNode(tok.pos)
        while True:  # declarations
            v = self._peek_non_space()
            if v.typ is not Tok.VARIABLE:
                break
            self._next()
            start = self.i
            after_var = self._peek()
            nxt = self._peek_non_space()
            if nxt.typ in (Tok.ASSIGN, Tok.DECLARE):
                pipe.is_assign = nxt.typ is Tok.ASSIGN
                self._next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
            elif nxt.typ is Tok.CHAR and nxt.val == ",":
                self._next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self._peek_non_space().typ in (
                        Tok.VARIABLE,
                        Tok.RIGHT_DELIM,
                        Tok.RIGHT_PAREN,
                    ):
                        continue
                    raise self._error("range can only initialize variables")
                raise self._error(f"too many declarations in {context}")
            else:
                self.i = start - 1
                del after_var
            break
        while True:
            tok = self._next_non_space()
            if tok.typ is end:
                self._check_pipeline(pipe, context)
                return pipe
            if tok.typ in _OPERAND_START:
                self._backup()
                pipe.cmds.append(self._command())
            else:
                raise self._unexpected(tok, context)

    def _check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self._error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                raise self._error(f"non executable command in pipeline stage {i + 2}")

    def _command(self) -> CommandNode:
        cmd = CommandNode(self._peek_non_space().pos)
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self._next()
            if tok.typ is Tok.SPACE:
                continue
            if tok.typ in (Tok.RIGHT_DELIM, Tok.RIGHT_PAREN):
                self._backup()
            elif tok.typ is not Tok.PIPE:
                raise self._unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self._error("empty command")
        return cmd

    def _operand(self) -> Node | None:
        node = self._term()
        if node is None:
            return None
        if self._peek().typ is Tok.FIELD:
            chain = ChainNode(self._peek().pos, node)
            while self._peek().typ is Tok.FIELD:
                chain.fields.append(self._next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, [*node.ident, *chain.fields])
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, [*node.ident, *chain.fields])
            if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                raise self._error(f"unexpected . after term {go_quote(str(node))}")
            return chain
        return node

    def _term(self) -> Node | None:
        tok = self._next_non_space()
        typ = tok.typ
        if typ is Tok.IDENTIFIER:
            if tok.val not in self.funcs:
                raise self._error(f"function {go_quote(tok.val)} not defined", tok)
            return IdentifierNode(tok.pos, tok.val)
        if typ is Tok.DOT:
            return DotNode(tok.pos)
        if typ is Tok.NIL:
            return NilNode(tok.pos)
        if typ is Tok.VARIABLE:
            name = tok.val.split(".")[0]
            if name not in self.vars:
                raise self._error(f"undefined variable {go_quote(name)}", tok)
            return VariableNode(tok.pos, tok.val.split("."))
        if typ is Tok.FIELD:
            return FieldNode(tok.pos, tok.val[1:].split("."))
        if typ is Tok.BOOL:
            return BoolNode(tok.pos, tok.val == "true")
        if typ in (Tok.NUMBER, Tok.CHAR_CONSTANT):
            return self._number(tok)
        if typ is Tok.LEFT_PAREN:
            return self._pipeline("parenthesized pipeline", Tok.RIGHT_PAREN)
        if typ in (Tok.STRING, Tok.RAW_STRING):
            return StringNode(tok.pos, tok.val, self._unquote(tok))
        self._backup()
        return None

    def _unquote(self, tok: Token) -> str:
        try:
            return go_unquote(tok.val)
        except ValueError as err:
            raise self._error(str(err), tok) from None

    def _number(self, tok: Token) -> NumberNode:
        text = tok.val
        if tok.typ is Tok.CHAR_CONSTANT:
            try:
                c = go_unquote(text)
            except ValueError as err:
                try:
                    many = go_unquote('"' + text[1:-1] + '"')
                except ValueError:
                    raise self._error(str(err), tok) from None
                if len(many) > 1:
                    raise self._error(f"malformed character constant: {text}", tok) from None
                raise self._error(str(err), tok) from None
            return NumberNode(tok.pos, text, True, True, ord(c), float(ord(c)), True)
        if text.endswith("i"):
            raise self._error(f"complex numbers are not supported: {text}", tok)
        int_value = _parse_go_int(text)
        float_value: float | None = None
        if int_value is not None:
            float_value = float(int_value)
        else:
            float_value = _parse_go_float(text)
            if float_value is not None:
                if not any(c in text for c in ".eEpP"):
                    raise self._error(f"integer overflow: {go_quote(text)}", tok)
                if float_value.is_integer() and -(2**63) <= float_value < 2**63:
                    int_value = int(float_value)
        if int_value is None and float_value is None:
            raise self._error(f"illegal number syntax: {go_quote(text)}", tok)
        return NumberNode(
            tok.pos,
            text,
            int_value is not None,
            float_value is not None,
            int_value or 0,
            float_value if float_value is not None else 0.0,
            False,
        )


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), also accepting uint64 values as Go's parser does."""
    clean = text.replace("_", "")
    body = clean.lstrip("+-")
    try:
        if re.fullmatch(r"0[0-7]+", body):
            value = int(clean[: len(clean) - len(body)] + "0o" + body[1:], 0)
        else:
            value = int(clean, 0)
    except ValueError:
        return None
    return value if -(2**63) <= value < 2**64 else None


def _parse_go_float(text: str) -> float | None:
    clean = text.replace("_", "")
    try:
        if "0x" in clean.lower():
            return float.fromhex(clean) if "p" in clean.lower() else None
        value = float(clean)
    except ValueError:
        return None
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", clean):
        return None
    return value


def _is_empty(node: ListNode) -> bool:
    return all(isinstance(n, TextNode) and n.text.strip() == "" for n in node.nodes)


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def go_unquote(s: str) -> str:
    """strconv.Unquote for "...", `...` and '.' literals; ValueError("invalid syntax") otherwise."""
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "\"'`":
        raise ValueError("invalid syntax")
    quote, body = s[0], s[1:-1]
    if quote == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == quote or c == "\n":
            raise ValueError("invalid syntax")
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("invalid syntax")
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e == quote:
            out.append(e)
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i : i + n]
            if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("invalid syntax")
            code = int(digits, 16)
            i += n
            if e == "x":
                out.append(chr(code))
            elif code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError("invalid syntax")
            else:
                out.append(chr(code))
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError("invalid syntax")
    result = "".join(out)
    if quote == "'" and len(result) != 1:
        raise ValueError("invalid syntax")
    return result
