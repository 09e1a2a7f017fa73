"""Stripe's drafts preview the customer balance: until finalization, starting_balance is the customer's
current balance and amount_due what finalizing now would leave due (total + balance, never below 0).
Finalization then applies the balance for real (invoicing._apply_balance)."""
from app.models.customers import Customer
from app.models.invoices import Invoice


def preview(invoice: Invoice, balance: int, balance_currency: str | None) -> None:
    """Set a draft's starting_balance and amount due from the customer's balance (one held in another
    currency does not apply)."""
    invoice.starting_balance = balance if balance_currency in (None, invoice.currency) else 0
    invoice.amount_due = invoice.amount_remaining = max(invoice.total + invoice.starting_balance, 0)


async def refresh(customer_id: str, *, exclude: str | None = None) -> None:
    """After the customer's balance changed (the caller holds the customer's row lock): its drafts preview
    the new balance. Drafts locked by another transaction are skipped, never waited for: that transaction
    is finalizing or editing them and previews the balance itself (waiting could deadlock with it)."""
    customer = await Customer.get(id=customer_id)
    drafts = Invoice.filter(customer_id=customer_id, status="draft", deleted=False).select_for_update(
        skip_locked=True)
    if exclude is not None:
        drafts = drafts.exclude(id=exclude)
    for invoice in await drafts:
        preview(invoice, customer.balance, customer.currency)
        await invoice.save(update_fields=["starting_balance", "amount_due", "amount_remaining"])


async def reread(invoice: Invoice) -> None:
    """A draft being edited takes the customer's balance as it is now."""
    customer = await Customer.get(id=invoice.customer_id)
    preview(invoice, customer.balance, customer.currency)
