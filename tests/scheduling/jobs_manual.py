from shared.scheduling import periodic


@periodic("ops_test.manual", cron="0 3 1 * *")
async def manual() -> object:
    return {"invoices": 0}
