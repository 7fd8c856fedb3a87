"""The SQL tools: schema forms, the sqlglot schema check, the filled database and the verdict of best-of-N."""

from __future__ import annotations

import time

import pytest

from moe_system.errors import ToolError
from moe_system.tools.sql_check import check_sql, sql_check_answer, sql_tool, sql_verdict
from moe_system.tools.sql_fill import Hints, fill_database
from moe_system.tools.sql_schema import SchemaInfo, schema_problem

DDL = """CREATE TABLE customers (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, city TEXT, signup_date TEXT);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, category TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  order_date DATE NOT NULL, total REAL, status TEXT);
CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL);"""
FORMS = {
    "create": DDL,
    "compact": "customers(id, full_name, city)\norders(id, customer_id, order_date, total)",
    "typed": "customers(id INTEGER PRIMARY KEY, full_name TEXT, city TEXT)\n"
             "orders(id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), order_date DATE, "
             "total REAL)",
    "lines": "customers: id, full_name, city\norders: id, customer_id, order_date, total",
    "bullets": "Table customers:\n- id (INTEGER, primary key)\n- full_name (TEXT)\n- city (TEXT)\n\n"
               "Таблица orders:\n- id (INTEGER, primary key)\n- customer_id (INTEGER, -> customers.id)\n"
               "- order_date (DATE)\n- total (REAL)",
}
INFO = SchemaInfo.of(DDL)


@pytest.mark.parametrize("form", FORMS)
def test_every_schema_form_is_read(form: str) -> None:
    info = SchemaInfo.of(FORMS[form])
    assert info.columns("customers") == ("id", "full_name", "city", *(("signup_date",) if form == "create" else ()))
    assert info.columns("orders")[:4] == ("id", "customer_id", "order_date", "total")
    query = "SELECT c.full_name, SUM(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id"
    assert check_sql(query, FORMS[form]) is None
    assert check_sql("SELECT c.fullname FROM customers c", FORMS[form]) == (
        "unknown column c.fullname (customers has: city, full_name, id"
        + (", signup_date" if form == "create" else "") + "); did you mean c.full_name?")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT full_name FROM customers WHERE city = 'Paris'", None),
        ("SELECT fullname FROM customers", "unknown column fullname (customers has: city, full_name, id, "
                                           "signup_date); did you mean full_name?"),
        ("SELECT * FROM clients", "unknown table clients (tables: customers, products, orders, order_items)"),
        ("SELECT * FROM customer", "unknown table customer; did you mean customers?"),
        ("SELECT x.full_name FROM customers c", "unknown table or alias x in x.full_name (tables and aliases here: c)"),
        ("SELECT customers.full_name FROM customers c", "unknown table or alias customers"),
        ("SELECT id FROM customers c JOIN orders o ON o.customer_id = c.id",
         "ambiguous column id: it is in c and o; qualify it (e.g. c.id)"),
        ("SELECT id FROM customers JOIN orders USING (id)", None),
        ("WITH s AS (SELECT customer_id, SUM(total) AS spent FROM orders GROUP BY customer_id) "
         "SELECT c.full_name, s.spent FROM customers c JOIN s ON s.customer_id = c.id", None),
        ("WITH s AS (SELECT customer_id, SUM(total) AS spent FROM orders GROUP BY customer_id) "
         "SELECT s.total FROM s", "unknown column s.total (s has: customer_id, spent)"),
        ("WITH s(cid, n) AS (SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id) "
         "SELECT cid, n FROM s", None),
        ("SELECT t.full_name FROM (SELECT full_name, city FROM customers) t WHERE t.city = 'Kazan'", None),
        ("SELECT t.total FROM (SELECT full_name FROM customers) t", "unknown column t.total (t has: full_name)"),
        ("SELECT full_name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)", None),
        ("SELECT full_name FROM customers c WHERE total > 3", "unknown column total (customers has: "),
        ("SELECT full_name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > "
         "(SELECT AVG(total) FROM orders))", None),
        ("SELECT o.total FROM customers c WHERE c.id IN (SELECT customer_id FROM orders o)",
         "unknown table or alias o"),
        ("SELECT city, COUNT(*) AS n FROM customers GROUP BY city HAVING n > 1 ORDER BY n DESC", None),
        ("SELECT full_name, RANK() OVER (PARTITION BY city ORDER BY signup_date) FROM customers", None),
        ('SELECT full_name FROM customers WHERE city = "Paris"', "unknown column Paris"),
        ("SELECT FROM WHERE", "the query does not parse: "),
        ("SELECT city FROM customers UNION SELECT status FROM orders ORDER BY city", None),
        ("SELECT city FROM customers UNION SELECT status FROM orders ORDER BY cty",
         "ORDER BY term cty of a compound query is not one of its result columns (city)"),
        ("SELECT id FROM customers NATURAL JOIN orders", None),
        ("SELECT value FROM json_each('[1, 2]')", None),
        ("SELECT n FROM (VALUES (1), (2)) AS v(n)", None),
    ],
)
def test_schema_problem(query: str, problem: str | None) -> None:
    found = schema_problem(query, INFO)
    assert found == problem if problem is None else (found or "").startswith(problem), found


def test_a_schema_given_inline_after_its_label_is_read() -> None:
    info = SchemaInfo.of("How many customers live in Paris? Schema: customers(id, name, city), orders(id, total)")
    assert info.columns("customers") == ("id", "name", "city") and info.columns("orders") == ("id", "total")
    assert SchemaInfo.of("Сколько заказов? Схема: orders(id, customer_id)").columns("orders") == ("id", "customer_id")


def test_check_sql_reports_the_schema_problem_and_keeps_read_only_refusals() -> None:
    assert (check_sql("SELECT nme FROM customers", DDL) or "").startswith("unknown column nme (customers has: ")
    assert "not read-only" in (check_sql("SELECT * FROM pragma_table_info('orders')", DDL) or "")
    assert "only one statement" in (check_sql("SELECT 1; DROP TABLE orders", DDL) or "")
    assert sql_tool(["SELECT nme FROM customers", "SELECT full_name FROM customers"], DDL) == \
        "SELECT full_name FROM customers"


def test_sql_check_answer_resamples_a_query_with_an_unknown_column() -> None:
    prompt = f"Names of customers?\n\nSchema:\n{FORMS['lines']}"
    answer = "```sql\nSELECT name FROM customers;\n```"
    fixed = sql_check_answer(answer, prompt, lambda seed: "```sql\nSELECT full_name FROM customers;\n```")
    assert fixed == "```sql\nSELECT full_name FROM customers;\n```"


# ---------------------------------------------------------------------------------------------- fill_database


@pytest.mark.parametrize("form", FORMS)
def test_fill_database_is_deterministic_with_valid_foreign_keys(form: str) -> None:
    first, again, other = fill_database(FORMS[form], 0), fill_database(FORMS[form], 0), fill_database(FORMS[form], 1)
    dump = [list(first.execute(f"SELECT * FROM {t} ORDER BY id")) for t in ("customers", "orders")]
    assert dump == [list(again.execute(f"SELECT * FROM {t} ORDER BY id")) for t in ("customers", "orders")]
    assert dump != [list(other.execute(f"SELECT * FROM {t} ORDER BY id")) for t in ("customers", "orders")]
    assert all(3 <= len(rows) <= 10 for rows in dump)
    orphans = ("SELECT COUNT(*) FROM orders WHERE customer_id IS NOT NULL "
               "AND customer_id NOT IN (SELECT id FROM customers)")
    assert first.execute(orphans).fetchone() == (0,)
    dates = [d for (d,) in first.execute("SELECT order_date FROM orders") if d is not None]
    assert dates and all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in dates)
    assert first.execute("SELECT COUNT(*) > COUNT(DISTINCT city) FROM customers").fetchone() == (1,)  # repeats
    for db in (first, again, other):
        db.close()


def test_fill_database_respects_types_nulls_and_leaves_some_parents_childless() -> None:
    db = fill_database(DDL, 3)
    assert db.execute("SELECT COUNT(*) FROM customers WHERE full_name IS NULL").fetchone() == (0,)  # NOT NULL
    assert {t for (t,) in db.execute("SELECT DISTINCT typeof(price) FROM products")} == {"real"}
    assert {t for (t,) in db.execute("SELECT DISTINCT typeof(quantity) FROM order_items")} == {"integer"}
    childless = db.execute("SELECT COUNT(*) FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)")
    assert childless.fetchone()[0] >= 1
    nulls = sum(db.execute(f"SELECT COUNT(*) FROM {t} WHERE {c} IS NULL").fetchone()[0]
                for t, c in (("customers", "city"), ("customers", "signup_date"), ("orders", "total"),
                             ("orders", "status"), ("products", "category")))
    assert nulls >= 1
    db.close()


def test_fill_database_refuses_a_schema_that_does_not_build() -> None:
    with pytest.raises(ToolError):
        fill_database("no tables here", 0)


# ---------------------------------------------------------------------------------------------------- verdict


def _answer(query: str) -> str:
    return f"Here it is:\n```sql\n{query}\n```"


REQUEST = f"How much did each customer spend?\n\nSchema:\n{DDL}"


def test_equivalent_queries_share_a_key_and_different_ones_do_not() -> None:
    same = [
        "SELECT c.full_name, SUM(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id",
        "SELECT full_name, (SELECT SUM(total) FROM orders WHERE customer_id = customers.id) AS s FROM customers "
        "WHERE id IN (SELECT customer_id FROM orders)",
        "WITH s AS (SELECT customer_id, SUM(total) AS t FROM orders GROUP BY customer_id) "
        "SELECT c.full_name, s.t FROM s JOIN customers c ON c.id = s.customer_id",
    ]
    keys = [sql_verdict(_answer(q), REQUEST) for q in same]
    assert all(v.ok for v in keys) and len({v.key for v in keys}) == 1
    assert keys[0].text == _answer(same[0]) and keys[0].reason == ""
    different = [
        "SELECT c.full_name, COUNT(o.id) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id",
        "SELECT c.full_name, SUM(o.total) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id",
        "SELECT c.full_name, AVG(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id",
    ]
    other = {sql_verdict(_answer(q), REQUEST).key for q in different}
    assert len(other) == 3 and keys[0].key not in other


def test_the_key_keeps_order_only_when_the_outer_query_sorts() -> None:
    up = sql_verdict(_answer("SELECT id FROM orders ORDER BY id"), REQUEST)
    down = sql_verdict(_answer("SELECT id FROM orders ORDER BY id DESC"), REQUEST)
    bag = sql_verdict(_answer("SELECT id FROM orders WHERE id IN (SELECT id FROM orders ORDER BY id DESC)"),
                      REQUEST)
    window = sql_verdict(_answer("SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) - ROW_NUMBER() OVER "
                                 "(ORDER BY id DESC) FROM orders"), REQUEST)
    assert up.key != down.key and up.key is not None and bag.key == up.key
    assert window.ok and len(window.key or ()) == len(up.key)
    assert sql_verdict(_answer("SELECT AVG(total) FROM orders"), REQUEST).key == \
        sql_verdict(_answer("SELECT SUM(total) * 1.0 / COUNT(total) FROM orders"), REQUEST).key


def test_failing_answers_are_not_ok_with_a_reason() -> None:
    for query, reason in [("SELECT nme FROM customers", "unknown column nme"),
                          ("DELETE FROM orders", "only a SELECT or WITH query"),
                          ("SELECT * FROM nowhere", "unknown table nowhere")]:
        verdict = sql_verdict(_answer(query), REQUEST)
        assert not verdict.ok and verdict.key is None and reason in verdict.reason
    no_schema = sql_verdict(_answer("SELECT 1"), "What is SQL?")
    assert not no_schema.ok and no_schema.reason


def test_the_verdict_takes_milliseconds() -> None:
    query = _answer("SELECT c.city, COUNT(*) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.city")
    sql_verdict(query, REQUEST)  # the filled rows are cached per schema
    started = time.perf_counter()
    for _ in range(20):
        assert sql_verdict(query, REQUEST).ok
    assert (time.perf_counter() - started) / 20 < 0.05


def test_values_the_question_names_are_in_the_rows_so_near_misses_differ() -> None:
    question = "Which orders over 25.5 have the status 'shipped'? Show the customers from «Томск» too."
    request = f"{question}\n\nSchema:\n{DDL}"
    hints = Hints.of(question)
    assert hints.strings == ("shipped", "Томск") and 25.5 in hints.numbers
    db = fill_database(DDL, 0, hints)
    assert db.execute("SELECT COUNT(*) FROM orders WHERE status = 'shipped'").fetchone()[0] >= 1
    assert db.execute("SELECT COUNT(*) FROM orders WHERE total = 25.5").fetchone()[0] >= 1
    db.close()
    def key(query: str) -> object:
        return sql_verdict(_answer(query), request).key

    assert key("SELECT id FROM orders WHERE total > 25.5") != key("SELECT id FROM orders WHERE total >= 25.5")
    assert key("SELECT id FROM orders WHERE status = 'shipped'") not in {(), key("SELECT id FROM orders "
                                                                                "WHERE status = 'Shipped'")}
