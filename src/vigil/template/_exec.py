"""Executes a parsed template against data, as Go's text/template exec.go walks a tree."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from vigil.template._ast import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
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
from vigil.template._builtins import BUILTINS
from vigil.template._call import ANY, ParamType, signature_of, type_error
from vigil.template._fmt import format_value, go_quote, sorted_keys
from vigil.template._gotime import GoTime
from vigil.template._parse import Tree
from vigil.template._values import (
    MISSING,
    go_type,
    is_true,
    map_zero,
    struct_field,
)

MissingKey = Literal["default", "zero", "error"]
MAX_DEPTH: Final = 200


class ExecError(Exception):
    """An execution failure, already formatted as Go formats it."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _NoFinal:
    __slots__ = ()


_NO_FINAL: Final = _NoFinal()


def location(tree: Tree, node: Node) -> str:
    """Go's ErrorContext location: PARSENAME:LINE:COL, COL counted in bytes from the line start."""
    text = tree.text[: node.pos]
    nl = text.rfind("\n")
    col = len(text[nl + 1 :].encode())
    return f"{tree.parse_name}:{text.count(chr(10)) + 1}:{col}"


class State:
    """One execution: the output, the variable stack and the node being evaluated (for errors)."""

    def __init__(
        self,
        trees: Mapping[str, Tree],
        funcs: Mapping[str, Callable[..., Any]],
        missing_key: MissingKey,
        tree: Tree,
        out: list[str],
        depth: int = 0,
    ) -> None:
        self.trees = trees
        self.funcs = funcs
        self.missing_key = missing_key
        self.tree = tree
        self.out = out
        self.depth = depth
        self.vars: list[tuple[str, Any]] = []
        self.node: Node | None = None

    def error(self, message: str) -> ExecError:
        name = self.tree.name
        if self.node is None:
            return ExecError(f"template: {name}: {message}")
        return ExecError(
            f"template: {location(self.tree, self.node)}: executing {go_quote(name)} "
            f"at <{self.node}>: {message}"
        )

    # Variables.
    def push(self, name: str, value: Any) -> None:
        self.vars.append((name, value))

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.error(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise self.error(f"undefined variable: {name}")

    # Walking.
    def walk(self, dot: Any, node: Node) -> None:
        if isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.out.append(
                    "<no value>" if value is MISSING or value is None else format_value(value)
                )
        elif isinstance(node, ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, IfNode | WithNode):
            mark = len(self.vars)
            value = self.eval_pipeline(dot, node.pipe)
            if is_true(value):
                self.walk(value if isinstance(node, WithNode) else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
            del self.vars[mark:]
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        else:
            raise self.error(f"unknown node: {node}")

    def walk_range(self, dot: Any, r: RangeNode) -> None:
        self.node = r
        outer = len(self.vars)
        value = self.eval_pipeline(dot, r.pipe)
        mark = len(self.vars)
        items: list[tuple[Any, Any]]
        if isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted_keys(value)]
        elif value is MISSING or value is None:
            items = []
        else:
            raise self.error(f"range can't iterate over {format_value(value)}")
        decl = r.pipe.decl
        try:
            for key, elem in items:
                if decl:
                    if r.pipe.is_assign:
                        self.set_var(decl[0].ident[0], key if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(decl[1].ident[0], elem)
                    else:
                        name, _ = self.vars[mark - 1]
                        self.vars[mark - 1] = (name, elem)
                        if len(decl) > 1:
                            name, _ = self.vars[mark - 2]
                            self.vars[mark - 2] = (name, key)
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                finally:
                    del self.vars[mark:]
        except _Break:
            pass
        else:
            if not items and r.else_list is not None:
                self.walk(dot, r.else_list)
        del self.vars[outer:]

    def walk_template(self, dot: Any, t: TemplateNode) -> None:
        self.node = t
        tree = self.trees.get(t.name)
        if tree is None:
            raise self.error(f"template {go_quote(t.name)} not defined")
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        new_dot = self.eval_pipeline(dot, t.pipe) if t.pipe is not None else dot
        if t.pipe is None:
            new_dot = MISSING
        state = State(self.trees, self.funcs, self.missing_key, tree, self.out, self.depth + 1)
        state.push("$", new_dot)
        state.walk(new_dot, tree.root)

    # Evaluation.
    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.error("nil is not a command")
        if isinstance(first, NumberNode):
            return first.ideal()
        if isinstance(first, StringNode):
            return first.text
        raise self.error(f"can't evaluate command {go_quote(str(first))}")

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node], final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, NilNode):
            raise self.error(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, ANY, chain.node, keep_missing=True)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: VariableNode, args: list[Node], final: Any) -> Any:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, ident: list[str], args: list[Node], final: Any
    ) -> Any:
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, [], _NO_FINAL, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any
    ) -> Any:
        """Go's evalField: a declared method (`__go_methods__`) first, then a map key or field."""
        if receiver is MISSING:
            if self.missing_key == "error":
                raise self.error(f"nil data; no entry for key {go_quote(name)}")
            return MISSING
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        methods = getattr(type(receiver), "__go_methods__", None)
        if methods and name in methods:
            method = getattr(receiver, methods[name])
            return self.eval_call(dot, method, node, name, args, final)
        has_args = len(args) > 1 or final is not _NO_FINAL
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missing_key == "zero":
                return map_zero(receiver)
            if self.missing_key == "error":
                raise self.error(f"map has no entry for key {go_quote(name)}")
            return MISSING
        if not isinstance(receiver, str | int | float | list | tuple | GoTime):
            if not name[:1].isupper():
                raise self.error(
                    f"{name} is an unexported field of struct type {go_type(receiver)}"
                )
            found, value = struct_field(receiver, name)
            if found:
                if has_args:
                    raise self.error(f"{name} has arguments but cannot be invoked as function")
                return value
        raise self.error(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_function(
        self, dot: Any, ident: IdentifierNode, cmd: Node, args: list[Node], final: Any
    ) -> Any:
        self.node = ident
        name = ident.ident
        fn = self.funcs.get(name)
        if fn is None:
            raise self.error(f"{go_quote(name)} is not a defined function")
        return self.eval_call(dot, fn, cmd, name, args, final)

    def eval_call(
        self,
        dot: Any,
        fn: Callable[..., Any],
        node: Node,
        name: str,
        args: list[Node],
        final: Any,
    ) -> Any:
        arg_nodes = args[1:]
        sig = signature_of(fn)
        num_in = len(arg_nodes) + (0 if final is _NO_FINAL else 1)
        if sig.variadic is not None:
            if num_in < len(sig.fixed):
                raise self.error(
                    f"wrong number of args for {name}: want at least {len(sig.fixed)} "
                    f"got {len(arg_nodes)}"
                )
        elif num_in != len(sig.fixed):
            raise self.error(f"wrong number of args for {name}: want {len(sig.fixed)} got {num_in}")
        if fn is BUILTINS["and"] or fn is BUILTINS["or"]:
            want = name == "or"
            value: Any = MISSING
            for arg in arg_nodes:
                value = self.eval_arg(dot, ANY, arg)
                if is_true(value) == want:
                    return value
            if final is not _NO_FINAL:
                value = None if final is MISSING else final
            return value

        def param(i: int) -> ParamType:
            if i < len(sig.fixed):
                return sig.fixed[i]
            return sig.variadic or ANY

        argv = [self.eval_arg(dot, param(i), a) for i, a in enumerate(arg_nodes)]
        if final is not _NO_FINAL:
            argv.append(self.validate(final, param(len(argv))))
        try:
            result = fn(*argv)
        except (ExecError, RecursionError):
            raise
        except Exception as err:  # Go recovers a function's panic into this same error.
            self.node = node
            raise self.error(f"error calling {name}: {err}") from err
        return result

    def validate(self, value: Any, typ: ParamType) -> Any:
        if value is MISSING or value is None:
            if typ.cls is None or typ.nullable:
                return None
            raise self.error(f"invalid value; expected {typ.go_name}")
        if not typ.accepts(value):
            raise self.error(type_error(typ, value))
        return value

    def eval_arg(self, dot: Any, typ: ParamType, n: Node, keep_missing: bool = False) -> Any:
        self.node = n
        value: Any
        if isinstance(n, DotNode):
            value = dot
        elif isinstance(n, NilNode):
            if typ.cls is None or typ.nullable:
                return None
            raise self.error(f"cannot assign nil to {typ.go_name}")
        elif isinstance(n, FieldNode):
            value = self.eval_field_chain(dot, dot, n, n.ident, [n], _NO_FINAL)
        elif isinstance(n, VariableNode):
            value = self.eval_variable(dot, n, [n], _NO_FINAL)
        elif isinstance(n, PipeNode):
            value = self.eval_pipeline(dot, n)
        elif isinstance(n, IdentifierNode):
            value = self.eval_function(dot, n, n, [n], _NO_FINAL)
        elif isinstance(n, ChainNode):
            value = self.eval_chain(dot, n, [n], _NO_FINAL)
        else:
            return self.literal(typ, n)
        if keep_missing:
            return value
        return self.validate(value, typ)

    def literal(self, typ: ParamType, n: Node) -> Any:
        cls = typ.cls
        if cls is None:
            if isinstance(n, BoolNode):
                return n.value
            if isinstance(n, StringNode):
                return n.text
            if isinstance(n, NumberNode):
                return n.ideal()
        elif cls is bool:
            if isinstance(n, BoolNode):
                return n.value
            raise self.error(f"expected bool; found {n}")
        elif cls is str:
            if isinstance(n, StringNode):
                return n.text
            raise self.error(f"expected string; found {n}")
        elif cls is int:
            if isinstance(n, NumberNode) and n.is_int:
                return n.int_value
            raise self.error(f"expected integer; found {n}")
        elif cls is float:
            if isinstance(n, NumberNode) and n.is_float:
                return n.float_value
            raise self.error(f"expected float; found {n}")
        raise self.error(f"can't handle {n} for arg of type {typ.go_name}")
