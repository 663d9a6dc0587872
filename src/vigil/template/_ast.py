"""Parse tree of a Go template; each node prints itself as Go's parse package does (used in error context)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.template._fmt import go_quote


@dataclass(eq=False, slots=True)
class Node:
    pos: int


@dataclass(eq=False, slots=True)
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass(eq=False, slots=True)
class TextNode(Node):
    text: str

    def __str__(self) -> str:
        return go_quote(self.text)


@dataclass(eq=False, slots=True)
class IdentifierNode(Node):
    ident: str

    def __str__(self) -> str:
        return self.ident


@dataclass(eq=False, slots=True)
class VariableNode(Node):
    ident: list[str]

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass(eq=False, slots=True)
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass(eq=False, slots=True)
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass(eq=False, slots=True)
class FieldNode(Node):
    ident: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass(eq=False, slots=True)
class BoolNode(Node):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(eq=False, slots=True)
class NumberNode(Node):
    text: str
    is_int: bool
    is_float: bool
    int_value: int
    float_value: float
    is_char: bool

    def __str__(self) -> str:
        return self.text

    def ideal(self) -> int | float:
        """The untyped constant's value when the receiver is interface{}: float only if written as one."""
        if (
            self.is_float
            and not self.is_char
            and not self.text.lower().startswith(("0x", "-0x", "+0x"))
        ) and any(c in self.text for c in ".eEpP"):
            return self.float_value
        if self.is_int:
            return self.int_value
        return self.float_value


@dataclass(eq=False, slots=True)
class StringNode(Node):
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@dataclass(eq=False, slots=True)
class PipeNode(Node):
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(v) for v in self.decl) + " := "
        return s + " | ".join(str(c) for c in self.cmds)


@dataclass(eq=False, slots=True)
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


@dataclass(eq=False, slots=True)
class ChainNode(Node):
    node: Node
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        base = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return base + "".join("." + f for f in self.fields)


@dataclass(eq=False, slots=True)
class ActionNode(Node):
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(eq=False, slots=True)
class BranchNode(Node):
    keyword: str
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


@dataclass(eq=False, slots=True)
class IfNode(BranchNode):
    pass


@dataclass(eq=False, slots=True)
class RangeNode(BranchNode):
    pass


@dataclass(eq=False, slots=True)
class WithNode(BranchNode):
    pass


@dataclass(eq=False, slots=True)
class TemplateNode(Node):
    name: str
    pipe: PipeNode | None

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


@dataclass(eq=False, slots=True)
class BreakNode(Node):
    def __str__(self) -> str:
        return "{{break}}"


@dataclass(eq=False, slots=True)
class ContinueNode(Node):
    def __str__(self) -> str:
        return "{{continue}}"


@dataclass(eq=False, slots=True)
class ElseNode(Node):
    """Parser-internal: marks an {{else}} while collecting a list."""

    def __str__(self) -> str:
        return "{{else}}"


@dataclass(eq=False, slots=True)
class EndNode(Node):
    """Parser-internal: marks an {{end}} while collecting a list."""

    def __str__(self) -> str:
        return "{{end}}"
