CREATE TABLE "document_sequences" (
    "document_type" VARCHAR(16) NOT NULL PRIMARY KEY,
    "last_number" INT NOT NULL
) /* The last number given to each document type: posting takes the next one. */;
CREATE TABLE "hold_rules" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "overdue_days" INT
) /* The single row of hold-rule settings. */;
CREATE TABLE "idempotency_keys" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "user_id" INT NOT NULL,
    "operation" VARCHAR(64) NOT NULL,
    "key" VARCHAR(200) NOT NULL,
    "request_digest" VARCHAR(64) NOT NULL,
    "result" TEXT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_idempotency_user_id_0f6729" UNIQUE ("user_id", "operation", "key")
) /* The first result of a mutation called with a key, per caller and mutation. */;
CREATE TABLE "invoice_runs" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "status" VARCHAR(24) NOT NULL /* QUEUED: QUEUED\nRUNNING: RUNNING\nCOMPLETED: COMPLETED\nCOMPLETED_WITH_ERRORS: COMPLETED_WITH_ERRORS\nFAILED: FAILED */,
    "target_date" DATE NOT NULL,
    "invoice_date" DATE NOT NULL,
    "auto_post" INT NOT NULL,
    "account_scope" TEXT /* JSON list of account ids, or null for every account */,
    "accounts_total" INT NOT NULL,
    "accounts_processed" INT NOT NULL,
    "invoices_created" INT NOT NULL,
    "lines_created" INT NOT NULL,
    "error" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "started_at" TIMESTAMP,
    "finished_at" TIMESTAMP
);
CREATE INDEX "invoice_runs_status" ON "invoice_runs" ("status", "id");
CREATE TABLE "invoice_run_accounts" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account_id" INT NOT NULL,
    "chunk" INT NOT NULL,
    "status" VARCHAR(16) NOT NULL /* PENDING: PENDING\nDONE: DONE\nFAILED: FAILED */,
    "invoice_id" BIGINT,
    "lines" INT NOT NULL,
    "error" TEXT,
    "processed_at" TIMESTAMP,
    "run_id" INT NOT NULL REFERENCES "invoice_runs" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_invoice_run_run_id_845120" UNIQUE ("run_id", "account_id")
) /* One account's share of a run: the unit of work that is done exactly once. */;
CREATE INDEX "invoice_run_accounts_chunk" ON "invoice_run_accounts" ("run_id", "chunk", "status");
CREATE TABLE "products" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "sku" VARCHAR(100) NOT NULL UNIQUE,
    "name" VARCHAR(200) NOT NULL,
    "charge_type" VARCHAR(16) NOT NULL /* ONE_TIME: ONE_TIME\nRECURRING: RECURRING */,
    "billing_frequency" VARCHAR(16) NOT NULL /* MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nSEMIANNUAL: SEMIANNUAL\nANNUAL: ANNUAL */,
    "billing_type" VARCHAR(16) NOT NULL /* ADVANCE: ADVANCE\nARREARS: ARREARS */,
    "list_price" VARCHAR(40) NOT NULL,
    "pricing_term_months" SMALLINT NOT NULL,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "users" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "email" VARCHAR(254) NOT NULL UNIQUE,
    "name" VARCHAR(200) NOT NULL,
    "role" VARCHAR(20) NOT NULL /* ADMIN: ADMIN\nFINANCE: FINANCE\nACCOUNT_MANAGER: ACCOUNT_MANAGER\nVIEWER: VIEWER */,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "accounts" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "billing_day_of_month" SMALLINT,
    "payment_term_days" INT NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "proration_policy" VARCHAR(32) NOT NULL /* ACTUAL_DAYS: ACTUAL_DAYS\nMONTHLY_PLUS_DAILY: MONTHLY_PLUS_DAILY\nCALENDAR_MONTHLY_PLUS_DAILY: CALENDAR_MONTHLY_PLUS_DAILY */,
    "partial_period_treatment" VARCHAR(16) NOT NULL /* SEPARATE: SEPARATE\nCOMBINE: COMBINE */,
    "requires_purchase_order" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "owner_id" INT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_accounts_owner_i_0599b1" ON "accounts" ("owner_id");
CREATE TABLE "api_tokens" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "digest" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
) /* An API token; only its SHA-256 digest is stored. */;
CREATE TABLE "audit_events" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "entity_id" VARCHAR(100) NOT NULL /* the global ID of the entity acted on */,
    "account_id" INT,
    "details" TEXT NOT NULL,
    "actor_id" INT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_audit_event_entity__649b24" ON "audit_events" ("entity_id");
CREATE INDEX "idx_audit_event_account_914cfe" ON "audit_events" ("account_id");
CREATE TABLE "billing_holds" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "scope" VARCHAR(16) NOT NULL /* ACCOUNT: ACCOUNT\nCONTRACT: CONTRACT\nORDER: ORDER\nORDER_PRODUCT: ORDER_PRODUCT */,
    "source" VARCHAR(24) NOT NULL /* MANUAL: MANUAL\nOVERDUE_RULE: OVERDUE_RULE\nPURCHASE_ORDER_RULE: PURCHASE_ORDER_RULE */,
    "reason" VARCHAR(500) NOT NULL,
    "contract_id" INT,
    "order_id" INT,
    "order_product_id" INT,
    "placed_at" TIMESTAMP NOT NULL,
    "release_on" DATE,
    "released_at" TIMESTAMP,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_billing_hol_order_i_0dddf5" ON "billing_holds" ("order_id");
CREATE INDEX "billing_holds_account" ON "billing_holds" ("account_id", "released_at");
CREATE TABLE "contracts" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "status" VARCHAR(16) NOT NULL /* DRAFT: DRAFT\nACTIVE: ACTIVE\nEXPIRED: EXPIRED\nCANCELLED: CANCELLED\nRENEWED: RENEWED */,
    "start_date" DATE NOT NULL,
    "end_date" DATE,
    "term_months" SMALLINT,
    "anniversary_day" SMALLINT,
    "billing_day_of_month" SMALLINT NOT NULL,
    "series_anchor" DATE NOT NULL /* first date of the contract's billing series (moves with a change of billing day) */,
    "auto_renew" INT NOT NULL,
    "renewal_term_months" SMALLINT,
    "renewal_uplift_percent" VARCHAR(40) NOT NULL,
    "renewal_notice_days" INT NOT NULL,
    "notice_deadline" DATE /* end_date - renewal_notice_days, kept for the renewals index */,
    "owner_id" INT /* the account's owner, copied so upcoming renewals by owner are index-backed */,
    "created_at" TIMESTAMP NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "renewal_of_id" INT REFERENCES "contracts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_contracts_account_d8eddb" ON "contracts" ("account_id");
CREATE INDEX "contracts_status_end" ON "contracts" ("status", "end_date");
CREATE INDEX "contracts_status_notice" ON "contracts" ("status", "notice_deadline");
CREATE INDEX "contracts_owner_end" ON "contracts" ("owner_id", "status", "end_date");
CREATE INDEX "contracts_owner_notice" ON "contracts" ("owner_id", "status", "notice_deadline");
CREATE TABLE "contract_lines" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "charge_type" VARCHAR(16) NOT NULL /* ONE_TIME: ONE_TIME\nRECURRING: RECURRING */,
    "unit_price" VARCHAR(40) NOT NULL,
    "pricing_term_months" SMALLINT NOT NULL,
    "billing_frequency" VARCHAR(16) NOT NULL /* MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nSEMIANNUAL: SEMIANNUAL\nANNUAL: ANNUAL */,
    "billing_type" VARCHAR(16) NOT NULL /* ADVANCE: ADVANCE\nARREARS: ARREARS */,
    "start_date" DATE NOT NULL,
    "end_date" DATE,
    "cancelled" INT NOT NULL,
    "contract_id" INT NOT NULL REFERENCES "contracts" ("id") ON DELETE RESTRICT,
    "product_id" INT NOT NULL REFERENCES "products" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_contract_li_contrac_60fe0d" ON "contract_lines" ("contract_id");
CREATE TABLE "invoices" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "document_type" VARCHAR(16) NOT NULL /* INVOICE: INVOICE\nCREDIT_NOTE: CREDIT_NOTE */,
    "status" VARCHAR(16) NOT NULL /* DRAFT: DRAFT\nPOSTED: POSTED\nCANCELLED: CANCELLED */,
    "number" VARCHAR(32) UNIQUE,
    "currency" VARCHAR(3) NOT NULL,
    "invoice_date" DATE NOT NULL,
    "due_date" DATE NOT NULL,
    "posted_on" DATE,
    "total" VARCHAR(40) NOT NULL,
    "open_balance" VARCHAR(40) NOT NULL /* what is still open: on an invoice, total less credits applied (>= 0); on a */,
    "payment_status" VARCHAR(16) /* UNPAID: UNPAID\nPARTIALLY_PAID: PARTIALLY_PAID\nPAID: PAID */,
    "rebill" INT /* on a credit note that reverses an invoice: whether its lines were billed again */,
    "created_at" TIMESTAMP NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "invoice_run_id" INT REFERENCES "invoice_runs" ("id") ON DELETE RESTRICT,
    "reverses_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_invoices_invoice_631d6c" UNIQUE ("invoice_run_id", "account_id")
) /* An invoice or a credit note. */;
CREATE INDEX "idx_invoices_reverse_25e75c" ON "invoices" ("reverses_id");
CREATE INDEX "invoices_account" ON "invoices" ("account_id", "status", "id");
CREATE INDEX "invoices_open" ON "invoices" ("account_id", "payment_status", "due_date");
CREATE INDEX "invoices_run" ON "invoices" ("invoice_run_id", "status");
CREATE TABLE "invoice_lines" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "schedule_line_id" BIGINT NOT NULL,
    "order_product_id" INT NOT NULL,
    "product_id" INT NOT NULL,
    "description" VARCHAR(300) NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "quantity" INT NOT NULL,
    "fraction" VARCHAR(200) NOT NULL,
    "amount" VARCHAR(40) NOT NULL,
    "bills" INT NOT NULL /* true while this line's document bills the schedule line; at most one such */,
    "invoice_id" BIGINT NOT NULL REFERENCES "invoices" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_invoice_lin_invoice_689390" ON "invoice_lines" ("invoice_id");
CREATE INDEX "invoice_lines_schedule_line" ON "invoice_lines" ("schedule_line_id");
CREATE TABLE "orders" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "type" VARCHAR(16) NOT NULL /* NEW: NEW\nAMENDMENT: AMENDMENT\nRENEWAL: RENEWAL */,
    "status" VARCHAR(16) NOT NULL /* DRAFT: DRAFT\nACTIVATED: ACTIVATED\nCANCELLED: CANCELLED */,
    "effective_date" DATE NOT NULL,
    "purchase_order_number" VARCHAR(100),
    "align_billing" INT NOT NULL,
    "activated_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "contract_id" INT NOT NULL REFERENCES "contracts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_orders_account_e53a1e" ON "orders" ("account_id");
CREATE INDEX "idx_orders_contrac_91aae5" ON "orders" ("contract_id");
CREATE TABLE "order_products" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account_id" INT NOT NULL,
    "contract_id" INT NOT NULL,
    "product_id" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "charge_type" VARCHAR(16) NOT NULL /* ONE_TIME: ONE_TIME\nRECURRING: RECURRING */,
    "quantity" INT NOT NULL,
    "unit_price" VARCHAR(40) NOT NULL,
    "pricing_term_months" SMALLINT NOT NULL,
    "billing_frequency" VARCHAR(16) NOT NULL /* MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nSEMIANNUAL: SEMIANNUAL\nANNUAL: ANNUAL */,
    "billing_type" VARCHAR(16) NOT NULL /* ADVANCE: ADVANCE\nARREARS: ARREARS */,
    "start_date" DATE NOT NULL,
    "end_date" DATE,
    "billing_day_of_month" SMALLINT NOT NULL,
    "series_anchor" DATE NOT NULL,
    "proration_policy" VARCHAR(32) NOT NULL /* ACTUAL_DAYS: ACTUAL_DAYS\nMONTHLY_PLUS_DAILY: MONTHLY_PLUS_DAILY\nCALENDAR_MONTHLY_PLUS_DAILY: CALENDAR_MONTHLY_PLUS_DAILY */,
    "partial_period_treatment" VARCHAR(16) NOT NULL /* SEPARATE: SEPARATE\nCOMBINE: COMBINE */,
    "align_billing" INT NOT NULL,
    "next_billing_date_override" DATE /* a one-time override of the due date of one line (bound to that line) */,
    "override_line_id" BIGINT,
    "bill_through_override" DATE /* where a bill-through override cut the first unbilled line */,
    "scheduled_through" DATE /* evergreen order products store their schedule through this date */,
    "total_amount" VARCHAR(40) /* fixed at activation; null for evergreen */,
    "contract_line_id" INT NOT NULL REFERENCES "contract_lines" ("id") ON DELETE RESTRICT,
    "order_id" INT NOT NULL REFERENCES "orders" ("id") ON DELETE RESTRICT
) /* The billable unit. Its billing settings are copied here at activation. */;
CREATE INDEX "idx_order_produ_account_a0c632" ON "order_products" ("account_id");
CREATE INDEX "idx_order_produ_contrac_01109f" ON "order_products" ("contract_id");
CREATE INDEX "idx_order_produ_contrac_2878e1" ON "order_products" ("contract_line_id");
CREATE INDEX "idx_order_produ_order_i_974922" ON "order_products" ("order_id");
CREATE TABLE "payments" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "amount" VARCHAR(40) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "received_on" DATE NOT NULL,
    "reference" VARCHAR(200) NOT NULL,
    "unapplied" VARCHAR(40) NOT NULL,
    "fully_applied" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_payments_account_c71c3e" ON "payments" ("account_id");
CREATE TABLE "applications" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account_id" INT NOT NULL,
    "amount" VARCHAR(40) NOT NULL,
    "applied_on" DATE NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "credit_note_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "invoice_id" BIGINT NOT NULL REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "payment_id" BIGINT REFERENCES "payments" ("id") ON DELETE RESTRICT
) /* Part of a payment or a posted credit note applied to an invoice. */;
CREATE INDEX "idx_application_account_f01815" ON "applications" ("account_id");
CREATE INDEX "idx_application_credit__e93925" ON "applications" ("credit_note_id");
CREATE INDEX "idx_application_invoice_3970a7" ON "applications" ("invoice_id");
CREATE INDEX "idx_application_payment_1ffdae" ON "applications" ("payment_id");
CREATE TABLE "schedule_lines" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account_id" INT NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "due_date" DATE NOT NULL /* the line's own due date; the effective one also depends on overrides and billing */,
    "amount" VARCHAR(40) NOT NULL,
    "value" VARCHAR(200) NOT NULL,
    "fraction" VARCHAR(200) NOT NULL,
    "parts" TEXT /* JSON list of period parts, when the line is not one simple part */,
    "is_credit" INT NOT NULL,
    "removed" INT NOT NULL /* removed by a termination or replaced by a re-cut; kept for the documents */,
    "created_at" TIMESTAMP NOT NULL,
    "order_product_id" INT NOT NULL REFERENCES "order_products" ("id") ON DELETE RESTRICT
) /* One stored line of an order product's schedule. */;
CREATE INDEX "schedule_lines_op" ON "schedule_lines" ("order_product_id", "period_start");
CREATE INDEX "schedule_lines_account_start" ON "schedule_lines" ("account_id", "period_start");
