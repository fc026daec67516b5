"""sqlfluff's stand-in for dbt's cross-database macros used by the models (PostgreSQL)."""


def type_string():
    return "text"


def type_bigint():
    return "bigint"


def type_int():
    return "integer"
