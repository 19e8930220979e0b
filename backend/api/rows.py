"""Model instances from hand-written SQL: the column list of a model, and an instance from its
slice of a row, as the ORM would build it.

For the few hot reads where compiling the ORM's statement costs more than running it (a claim's
link, the console's memberships on every page): the statement is written once in SQL over
``columns(...)``, each row is cut back into instances with ``model_from_row``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def columns(model: type[models.Model], alias: str) -> str:
    """The model's concrete columns, qualified by the table alias, in field order."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def model_from_row(model: type[M], row: Sequence, start: int = 0) -> M:
    """An instance of ``model`` from its concrete columns in ``row`` from ``start`` (in field
    order), as the ORM would build it (its fields' database converters applied)."""
    fields = model._meta.concrete_fields
    values = list(row[start : start + len(fields)])
    for index, field in enumerate(fields):
        for converter in field.get_db_converters(connection):
            values[index] = converter(values[index], field, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], values)


def insert_instances(model: type[M], objs: Sequence[M]) -> list[M]:
    """``bulk_create`` for a hot insert: the instances in one ``INSERT ... SELECT FROM
    unnest(arrays)``, their primary keys set from ``RETURNING`` (in the order given).

    Every concrete column is written from the instance's attribute, as it stands (defaults
    were applied when the instance was built; ``auto_now``/``auto_now_add`` fields are filled
    as the ORM's ``pre_save`` fills them). Values go to psycopg2 unprepared, so this is for
    models whose fields are plain integers, text, booleans and date-times: a field needing
    database preparation (JSON, decimals, custom types) is refused. No signals are sent."""
    if not objs:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for field in fields:
        if field.get_internal_type() not in _PLAIN_TYPES:
            raise TypeError(f"insert_instances: {model.__name__}.{field.name} needs preparation")
    filled = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj in objs:
        for field in filled:
            field.pre_save(obj, add=True)
    names = [f'"{f.column}"' for f in fields]
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
    sql = (
        f'INSERT INTO "{model._meta.db_table}" ({", ".join(names)}) '  # noqa: S608 - names from the model
        f'SELECT {", ".join(f"t.{n}" for n in names)} '
        f'FROM unnest({arrays}) WITH ORDINALITY AS t({", ".join(names)}, "_n") ORDER BY "_n" '
        f'RETURNING "{model._meta.pk.column}"'
    )
    columns = [[getattr(obj, f.attname) for obj in objs] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, columns)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


_PLAIN_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}
