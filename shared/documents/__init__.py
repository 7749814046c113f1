"""What every document Kolokol prints shares: Russian formatting, our company, the PDF page.

:mod:`shared.documents.formatting` reads amounts, quantities and dates the Russian
way; :mod:`shared.documents.parties` holds the parties of a document (and our own
company's details); :mod:`shared.documents.pdf` sets up an A4 page in DejaVu Sans and
draws the two parties side by side. Quotes (pricing) and invoices (billing) use these,
so both read the same.
"""
