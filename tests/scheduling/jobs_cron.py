from shared.scheduling import periodic


@periodic("ops_test.every_3s", cron="* * * * * */3")
async def every_3s() -> object:
    return "slot"


@periodic("ops_test.monthly", cron="0 3 1 * *")
async def monthly() -> object:
    return {"invoices": 0}
