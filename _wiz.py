import asyncio, time, os, tempfile
if __name__ == "__main__":
    os.environ["DATA_DIR"] = tempfile.mkdtemp()
    async def main():
        from services.db import init_db, migrate_db
        await migrate_db(); await init_db()
        from services import recipient_table
        from models import Account
        a = await Account.create(name="x")
        n = 100_000
        text = "phone,name\n" + "\n".join(f"+7999{i:07d},Name {i}" for i in range(n))
        t0 = time.perf_counter(); table = recipient_table.from_csv_text(text); t1 = time.perf_counter()
        r = await recipient_table.check(table, "phone", "Hello {name}!", a.id); t2 = time.perf_counter()
        print(f"{n} rows: parse {t1-t0:.2f}s check {t2-t1:.2f}s kept {len(r.kept()[0])}")
    asyncio.run(main())
