async def test_create_and_read_product(api):
    data = await api.ok(
        'mutation { createProduct(input: {name: "Pro", metadata: {tier: "gold"}}) { id name active metadata } }')
    product = data["createProduct"]
    assert product["id"].startswith("prod_")
    read = await api.ok("query($id: ID!) { product(id: $id) { name metadata prices { nodes { id } } } }",
                        {"id": product["id"]})
    assert read["product"] == {"name": "Pro", "metadata": {"tier": "gold"}, "prices": {"nodes": []}}
