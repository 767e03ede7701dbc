CREATE TABLE "document_sequences" (
    "document_type" VARCHAR(16) NOT NULL PRIMARY KEY,
    "last_number" INT NOT NULL
);
COMMENT ON TABLE "document_sequences" IS 'The last number given to each document type: posting takes the next one.';
CREATE TABLE "hold_rules" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "overdue_days" INT
);
COMMENT ON TABLE "hold_rules" IS 'The single row of hold-rule settings.';
CREATE TABLE "idempotency_keys" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "user_id" INT NOT NULL,
    "operation" VARCHAR(64) NOT NULL,
    "key" VARCHAR(200) NOT NULL,
    "request_digest" VARCHAR(64) NOT NULL,
    "result" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_idempotency_user_id_0f6729" UNIQUE ("user_id", "operation", "key")
);
COMMENT ON TABLE "idempotency_keys" IS 'The first result of a mutation called with a key, per caller and mutation.';
CREATE TABLE "invoice_runs" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(24) NOT NULL,
    "target_date" DATE NOT NULL,
    "invoice_date" DATE NOT NULL,
    "auto_post" BOOL NOT NULL,
    "account_scope" TEXT,
    "accounts_total" INT NOT NULL,
    "accounts_processed" INT NOT NULL,
    "invoices_created" INT NOT NULL,
    "lines_created" INT NOT NULL,
    "error" TEXT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ
);
CREATE INDEX "invoice_runs_status" ON "invoice_runs" ("status", "id");
COMMENT ON COLUMN "invoice_runs"."status" IS 'QUEUED: QUEUED\nRUNNING: RUNNING\nCOMPLETED: COMPLETED\nCOMPLETED_WITH_ERRORS: COMPLETED_WITH_ERRORS\nFAILED: FAILED';
COMMENT ON COLUMN "invoice_runs"."account_scope" IS 'JSON list of account ids, or null for every account';
CREATE TABLE "invoice_run_accounts" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "account_id" INT NOT NULL,
    "chunk" INT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "invoice_id" BIGINT,
    "lines" INT NOT NULL,
    "error" TEXT,
    "processed_at" TIMESTAMPTZ,
    "run_id" INT NOT NULL REFERENCES "invoice_runs" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_invoice_run_run_id_845120" UNIQUE ("run_id", "account_id")
);
CREATE INDEX "invoice_run_accounts_chunk" ON "invoice_run_accounts" ("run_id", "chunk", "status");
COMMENT ON COLUMN "invoice_run_accounts"."status" IS 'PENDING: PENDING\nDONE: DONE\nFAILED: FAILED';
COMMENT ON TABLE "invoice_run_accounts" IS 'One account''s share of a run: the unit of work that is done exactly once.';
CREATE TABLE "products" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "sku" VARCHAR(100) NOT NULL UNIQUE,
    "name" VARCHAR(200) NOT NULL,
    "charge_type" VARCHAR(16) NOT NULL,
    "billing_frequency" VARCHAR(16) NOT NULL,
    "billing_type" VARCHAR(16) NOT NULL,
    "list_price" DECIMAL(20,6) NOT NULL,
    "pricing_term_months" SMALLINT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN "products"."charge_type" IS 'ONE_TIME: ONE_TIME\nRECURRING: RECURRING';
COMMENT ON COLUMN "products"."billing_frequency" IS 'MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nSEMIANNUAL: SEMIANNUAL\nANNUAL: ANNUAL';
COMMENT ON COLUMN "products"."billing_type" IS 'ADVANCE: ADVANCE\nARREARS: ARREARS';
CREATE TABLE "users" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "email" VARCHAR(254) NOT NULL UNIQUE,
    "name" VARCHAR(200) NOT NULL,
    "role" VARCHAR(20) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN "users"."role" IS 'ADMIN: ADMIN\nFINANCE: FINANCE\nACCOUNT_MANAGER: ACCOUNT_MANAGER\nVIEWER: VIEWER';
CREATE TABLE "accounts" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(200) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "billing_day_of_month" SMALLINT,
    "payment_term_days" INT NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "proration_policy" VARCHAR(32) NOT NULL,
    "partial_period_treatment" VARCHAR(16) NOT NULL,
    "requires_purchase_order" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "owner_id" INT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_accounts_owner_i_0599b1" ON "accounts" ("owner_id");
COMMENT ON COLUMN "accounts"."proration_policy" IS 'ACTUAL_DAYS: ACTUAL_DAYS\nMONTHLY_PLUS_DAILY: MONTHLY_PLUS_DAILY\nCALENDAR_MONTHLY_PLUS_DAILY: CALENDAR_MONTHLY_PLUS_DAILY';
COMMENT ON COLUMN "accounts"."partial_period_treatment" IS 'SEPARATE: SEPARATE\nCOMBINE: COMBINE';
CREATE TABLE "api_tokens" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "digest" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "api_tokens" IS 'An API token; only its SHA-256 digest is stored.';
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "at" TIMESTAMPTZ NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "entity_id" VARCHAR(100) NOT NULL,
    "account_id" INT,
    "details" TEXT NOT NULL,
    "actor_id" INT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_audit_event_entity__649b24" ON "audit_events" ("entity_id");
CREATE INDEX "idx_audit_event_account_914cfe" ON "audit_events" ("account_id");
COMMENT ON COLUMN "audit_events"."entity_id" IS 'the global ID of the entity acted on';
CREATE TABLE "billing_holds" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "scope" VARCHAR(16) NOT NULL,
    "source" VARCHAR(24) NOT NULL,
    "reason" VARCHAR(500) NOT NULL,
    "contract_id" INT,
    "order_id" INT,
    "order_product_id" INT,
    "placed_at" TIMESTAMPTZ NOT NULL,
    "release_on" DATE,
    "released_at" TIMESTAMPTZ,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_billing_hol_order_i_0dddf5" ON "billing_holds" ("order_id");
CREATE INDEX "billing_holds_account" ON "billing_holds" ("account_id", "released_at");
COMMENT ON COLUMN "billing_holds"."scope" IS 'ACCOUNT: ACCOUNT\nCONTRACT: CONTRACT\nORDER: ORDER\nORDER_PRODUCT: ORDER_PRODUCT';
COMMENT ON COLUMN "billing_holds"."source" IS 'MANUAL: MANUAL\nOVERDUE_RULE: OVERDUE_RULE\nPURCHASE_ORDER_RULE: PURCHASE_ORDER_RULE';
CREATE TABLE "contracts" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(16) NOT NULL,
    "start_date" DATE NOT NULL,
    "end_date" DATE,
    "term_months" SMALLINT,
    "anniversary_day" SMALLINT,
    "billing_day_of_month" SMALLINT NOT NULL,
    "series_anchor" DATE NOT NULL,
    "auto_renew" BOOL NOT NULL,
    "renewal_term_months" SMALLINT,
    "renewal_uplift_percent" DECIMAL(20,6) NOT NULL,
    "renewal_notice_days" INT NOT NULL,
    "notice_deadline" DATE,
    "owner_id" INT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "renewal_of_id" INT REFERENCES "contracts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_contracts_account_d8eddb" ON "contracts" ("account_id");
CREATE INDEX "contracts_status_end" ON "contracts" ("status", "end_date");
CREATE INDEX "contracts_status_notice" ON "contracts" ("status", "notice_deadline");
CREATE INDEX "contracts_owner_end" ON "contracts" ("owner_id", "status", "end_date");
CREATE INDEX "contracts_owner_notice" ON "contracts" ("owner_id", "status", "notice_deadline");
COMMENT ON COLUMN "contracts"."status" IS 'DRAFT: DRAFT\nACTIVE: ACTIVE\nEXPIRED: EXPIRED\nCANCELLED: CANCELLED\nRENEWED: RENEWED';
COMMENT ON COLUMN "contracts"."series_anchor" IS 'first date of the contract''s billing series (moves with a change of billing day)';
COMMENT ON COLUMN "contracts"."notice_deadline" IS 'end_date - renewal_notice_days, kept for the renewals index';
COMMENT ON COLUMN "contracts"."owner_id" IS 'the account''s owner, copied so upcoming renewals by owner are index-backed';
CREATE TABLE "contract_lines" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "charge_type" VARCHAR(16) NOT NULL,
    "unit_price" DECIMAL(20,6) NOT NULL,
    "pricing_term_months" SMALLINT NOT NULL,
    "billing_frequency" VARCHAR(16) NOT NULL,
    "billing_type" VARCHAR(16) NOT NULL,
    "start_date" DATE NOT NULL,
    "end_date" DATE,
    "cancelled" BOOL NOT NULL,
    "contract_id" INT NOT NULL REFERENCES "contracts" ("id") ON DELETE RESTRICT,
    "product_id" INT NOT NULL REFERENCES "products" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_contract_li_contrac_60fe0d" ON "contract_lines" ("contract_id");
COMMENT ON COLUMN "contract_lines"."charge_type" IS 'ONE_TIME: ONE_TIME\nRECURRING: RECURRING';
COMMENT ON COLUMN "contract_lines"."billing_frequency" IS 'MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nSEMIANNUAL: SEMIANNUAL\nANNUAL: ANNUAL';
COMMENT ON COLUMN "contract_lines"."billing_type" IS 'ADVANCE: ADVANCE\nARREARS: ARREARS';
CREATE TABLE "invoices" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "document_type" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "number" VARCHAR(32) UNIQUE,
    "currency" VARCHAR(3) NOT NULL,
    "invoice_date" DATE NOT NULL,
    "due_date" DATE NOT NULL,
    "posted_on" DATE,
    "total" DECIMAL(20,3) NOT NULL,
    "open_balance" DECIMAL(20,3) NOT NULL,
    "payment_status" VARCHAR(16),
    "rebill" BOOL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "invoice_run_id" INT REFERENCES "invoice_runs" ("id") ON DELETE RESTRICT,
    "reverses_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_invoices_invoice_631d6c" UNIQUE ("invoice_run_id", "account_id")
);
CREATE INDEX "idx_invoices_reverse_25e75c" ON "invoices" ("reverses_id");
CREATE INDEX "invoices_account" ON "invoices" ("account_id", "status", "id");
CREATE INDEX "invoices_open" ON "invoices" ("account_id", "payment_status", "due_date");
CREATE INDEX "invoices_run" ON "invoices" ("invoice_run_id", "status");
COMMENT ON COLUMN "invoices"."document_type" IS 'INVOICE: INVOICE\nCREDIT_NOTE: CREDIT_NOTE';
COMMENT ON COLUMN "invoices"."status" IS 'DRAFT: DRAFT\nPOSTED: POSTED\nCANCELLED: CANCELLED';
COMMENT ON COLUMN "invoices"."open_balance" IS 'what is still open: on an invoice, total less credits applied (>= 0); on a';
COMMENT ON COLUMN "invoices"."payment_status" IS 'UNPAID: UNPAID\nPARTIALLY_PAID: PARTIALLY_PAID\nPAID: PAID';
COMMENT ON COLUMN "invoices"."rebill" IS 'on a credit note that reverses an invoice: whether its lines were billed again';
COMMENT ON TABLE "invoices" IS 'An invoice or a credit note.';
CREATE TABLE "invoice_lines" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "schedule_line_id" BIGINT NOT NULL,
    "order_product_id" INT NOT NULL,
    "product_id" INT NOT NULL,
    "description" VARCHAR(300) NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "quantity" INT NOT NULL,
    "fraction" VARCHAR(200) NOT NULL,
    "amount" DECIMAL(20,3) NOT NULL,
    "bills" BOOL NOT NULL,
    "invoice_id" BIGINT NOT NULL REFERENCES "invoices" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_invoice_lin_invoice_689390" ON "invoice_lines" ("invoice_id");
CREATE INDEX "invoice_lines_schedule_line" ON "invoice_lines" ("schedule_line_id");
COMMENT ON COLUMN "invoice_lines"."bills" IS 'true while this line''s document bills the schedule line; at most one such';
CREATE TABLE "orders" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "type" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "effective_date" DATE NOT NULL,
    "purchase_order_number" VARCHAR(100),
    "align_billing" BOOL NOT NULL,
    "activated_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "contract_id" INT NOT NULL REFERENCES "contracts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_orders_account_e53a1e" ON "orders" ("account_id");
CREATE INDEX "idx_orders_contrac_91aae5" ON "orders" ("contract_id");
COMMENT ON COLUMN "orders"."type" IS 'NEW: NEW\nAMENDMENT: AMENDMENT\nRENEWAL: RENEWAL';
COMMENT ON COLUMN "orders"."status" IS 'DRAFT: DRAFT\nACTIVATED: ACTIVATED\nCANCELLED: CANCELLED';
CREATE TABLE "order_products" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "account_id" INT NOT NULL,
    "contract_id" INT NOT NULL,
    "product_id" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "charge_type" VARCHAR(16) NOT NULL,
    "quantity" INT NOT NULL,
    "unit_price" DECIMAL(20,6) NOT NULL,
    "pricing_term_months" SMALLINT NOT NULL,
    "billing_frequency" VARCHAR(16) NOT NULL,
    "billing_type" VARCHAR(16) NOT NULL,
    "start_date" DATE NOT NULL,
    "end_date" DATE,
    "billing_day_of_month" SMALLINT NOT NULL,
    "series_anchor" DATE NOT NULL,
    "proration_policy" VARCHAR(32) NOT NULL,
    "partial_period_treatment" VARCHAR(16) NOT NULL,
    "align_billing" BOOL NOT NULL,
    "next_billing_date_override" DATE,
    "override_line_id" BIGINT,
    "bill_through_override" DATE,
    "scheduled_through" DATE,
    "total_amount" DECIMAL(20,3),
    "contract_line_id" INT NOT NULL REFERENCES "contract_lines" ("id") ON DELETE RESTRICT,
    "order_id" INT NOT NULL REFERENCES "orders" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_order_produ_account_a0c632" ON "order_products" ("account_id");
CREATE INDEX "idx_order_produ_contrac_01109f" ON "order_products" ("contract_id");
CREATE INDEX "idx_order_produ_contrac_2878e1" ON "order_products" ("contract_line_id");
CREATE INDEX "idx_order_produ_order_i_974922" ON "order_products" ("order_id");
COMMENT ON COLUMN "order_products"."charge_type" IS 'ONE_TIME: ONE_TIME\nRECURRING: RECURRING';
COMMENT ON COLUMN "order_products"."billing_frequency" IS 'MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nSEMIANNUAL: SEMIANNUAL\nANNUAL: ANNUAL';
COMMENT ON COLUMN "order_products"."billing_type" IS 'ADVANCE: ADVANCE\nARREARS: ARREARS';
COMMENT ON COLUMN "order_products"."proration_policy" IS 'ACTUAL_DAYS: ACTUAL_DAYS\nMONTHLY_PLUS_DAILY: MONTHLY_PLUS_DAILY\nCALENDAR_MONTHLY_PLUS_DAILY: CALENDAR_MONTHLY_PLUS_DAILY';
COMMENT ON COLUMN "order_products"."partial_period_treatment" IS 'SEPARATE: SEPARATE\nCOMBINE: COMBINE';
COMMENT ON COLUMN "order_products"."next_billing_date_override" IS 'a one-time override of the due date of one line (bound to that line)';
COMMENT ON COLUMN "order_products"."bill_through_override" IS 'where a bill-through override cut the first unbilled line';
COMMENT ON COLUMN "order_products"."scheduled_through" IS 'evergreen order products store their schedule through this date';
COMMENT ON COLUMN "order_products"."total_amount" IS 'fixed at activation; null for evergreen';
COMMENT ON TABLE "order_products" IS 'The billable unit. Its billing settings are copied here at activation.';
CREATE TABLE "payments" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "amount" DECIMAL(20,3) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "received_on" DATE NOT NULL,
    "reference" VARCHAR(200) NOT NULL,
    "unapplied" DECIMAL(20,3) NOT NULL,
    "fully_applied" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "account_id" INT NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_payments_account_c71c3e" ON "payments" ("account_id");
CREATE TABLE "applications" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "account_id" INT NOT NULL,
    "amount" DECIMAL(20,3) NOT NULL,
    "applied_on" DATE NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "credit_note_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "invoice_id" BIGINT NOT NULL REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "payment_id" BIGINT REFERENCES "payments" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_application_account_f01815" ON "applications" ("account_id");
CREATE INDEX "idx_application_credit__e93925" ON "applications" ("credit_note_id");
CREATE INDEX "idx_application_invoice_3970a7" ON "applications" ("invoice_id");
CREATE INDEX "idx_application_payment_1ffdae" ON "applications" ("payment_id");
COMMENT ON TABLE "applications" IS 'Part of a payment or a posted credit note applied to an invoice.';
CREATE TABLE "schedule_lines" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "account_id" INT NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "due_date" DATE NOT NULL,
    "amount" DECIMAL(20,3) NOT NULL,
    "value" VARCHAR(200) NOT NULL,
    "fraction" VARCHAR(200) NOT NULL,
    "parts" TEXT,
    "is_credit" BOOL NOT NULL,
    "removed" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "order_product_id" INT NOT NULL REFERENCES "order_products" ("id") ON DELETE RESTRICT
);
CREATE INDEX "schedule_lines_op" ON "schedule_lines" ("order_product_id", "period_start");
CREATE INDEX "schedule_lines_account_start" ON "schedule_lines" ("account_id", "period_start");
COMMENT ON COLUMN "schedule_lines"."due_date" IS 'the line''s own due date; the effective one also depends on overrides and billing';
COMMENT ON COLUMN "schedule_lines"."parts" IS 'JSON list of period parts, when the line is not one simple part';
COMMENT ON COLUMN "schedule_lines"."removed" IS 'removed by a termination or replaced by a re-cut; kept for the documents';
COMMENT ON TABLE "schedule_lines" IS 'One stored line of an order product''s schedule.';
