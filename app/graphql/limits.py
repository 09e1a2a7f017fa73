"""Query cost: a bound on the rows a query can touch, checked after validation and before execution.

Every field with a selection costs 1 x the product of its ancestors' page sizes; a connection (a field
with a `first` argument) multiplies its selection by `first` (10 when absent, clamped to 0..100: larger
pages are refused by the resolvers with param `first`). Variables, their defaults and fragments are
resolved; every fragment counts, so a query on an interface costs as if all its types matched.
"""
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
    get_operation_ast,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from app.config import load
from app.graphql.pagination import DEFAULT_PAGE, MAX_PAGE

MAX_COST = load().max_query_cost
_META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}


class _Cost:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def of(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, multiplier: int) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is not None:  # scalars are read with their object
                    name = selection.name.value
                    field = _META_FIELDS.get(name) or parent.fields[name]
                    inner = multiplier * self.page_size(selection, field)
                    total += multiplier + self.of(selection.selection_set, get_named_type(field.type), inner)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                total += self.of(selection.selection_set,
                                 self.schema.get_type(condition.name.value) if condition else parent, multiplier)
            else:
                fragment = self.fragments[selection.name.value]
                total += self.of(fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value),
                                 multiplier)
        return total

    def page_size(self, node: FieldNode, field: GraphQLField) -> int:
        if "first" not in field.args:
            return 1
        value = None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                if isinstance(argument.value, IntValueNode):
                    value = int(argument.value.value)
                elif isinstance(argument.value, VariableNode):
                    value = self.variables.get(argument.value.name.value)
        if not isinstance(value, int) or isinstance(value, bool):
            return DEFAULT_PAGE  # null, or a value that fails coercion before anything runs
        return min(max(value, 0), MAX_PAGE)


def query_cost(schema: GraphQLSchema, document: DocumentNode, variables: dict | None = None,
               operation_name: str | None = None) -> int:
    """The cost of the operation to run; 0 when there is none (execution reports that)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    values = {d.variable.name.value: value_from_ast_untyped(d.default_value)
              for d in operation.variable_definitions or () if d.default_value is not None}
    if isinstance(variables, dict):
        values.update(variables)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Cost(schema, fragments, values).of(operation.selection_set, schema.get_root_type(operation.operation), 1)


class QueryCostLimiter(SchemaExtension):
    """Refuses an operation whose cost is over `max_cost` before any resolver runs."""

    def __init__(self, max_cost: int = MAX_COST) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        cost = query_cost(context.schema._schema, context.graphql_document, context.variables,
                          context.operation_name)
        if cost > self.max_cost:
            context.result = ExecutionResult(data=None, errors=[GraphQLError(
                f"Query cost {cost} is over the limit of {self.max_cost}: ask for smaller pages (first) "
                "or fewer nested connections.",
                extensions={"code": "query_too_complex", "type": "invalid_request_error", "param": None},
            )])
        yield
