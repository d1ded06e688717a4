-- data.sql: deterministic sample data for the demo schema (schema.sql).
--
-- Every value is computed from generate_series counters with modular
-- arithmetic, so the data is the same on every run; dates are counted back
-- from current_date so that retention periods have rows on both sides of
-- their cut-off whenever the demo runs.  Names and addresses are Danish and
-- made up; e-mail addresses use the example.com, example.dk and example.org
-- domains, IP addresses the documentation ranges (192.0.2.0/24,
-- 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
--
-- Rows: 5 tenants, 200 users, 1000 customers, 100 products, 3000 orders,
-- 8000 order lines, 2500 invoices, 400 support tickets, 1500 support
-- messages, 5000 tracking events.

begin;

-- Word lists the generators pick from; temporary, gone at the end of the session.
create function pg_temp.first_names() returns text[]
language sql immutable as $$
	select array['Anne', 'Kirsten', 'Mette', 'Hanne', 'Helle', 'Susanne',
				 'Lene', 'Maria', 'Marianne', 'Camilla', 'Louise', 'Sofie',
				 'Ida', 'Freja', 'Signe', 'Peter', 'Jens', 'Lars', 'Michael',
				 'Henrik', 'Søren', 'Thomas', 'Niels', 'Rasmus', 'Mads',
				 'Anders', 'Jesper', 'Mikkel', 'Jørgen', 'Bjørn']
$$;

create function pg_temp.last_names() returns text[]
language sql immutable as $$
	select array['Nielsen', 'Jensen', 'Hansen', 'Pedersen', 'Andersen',
				 'Christensen', 'Larsen', 'Sørensen', 'Rasmussen', 'Jørgensen',
				 'Petersen', 'Madsen', 'Kristensen', 'Olsen', 'Thomsen',
				 'Poulsen', 'Johansen', 'Møller', 'Mortensen', 'Knudsen',
				 'Jakobsen', 'Mikkelsen', 'Østergaard', 'Lund', 'Holm', 'Bach',
				 'Dahl', 'Frederiksen']
$$;

create function pg_temp.streets() returns text[]
language sql immutable as $$
	select array['Nørregade', 'Vestergade', 'Østergade', 'Søndergade',
				 'Algade', 'Strandvejen', 'Kongensgade', 'Bredgade',
				 'Jernbanegade', 'Skolegade', 'Kirkevej', 'Møllevej',
				 'Havnegade', 'Storegade', 'Åboulevarden', 'Frederiksberg Allé']
$$;

create function pg_temp.towns() returns text[]
language sql immutable as $$
	select array['1050 København K', '2100 København Ø', '2200 København N',
				 '8000 Aarhus C', '5000 Odense C', '9000 Aalborg',
				 '6700 Esbjerg', '7100 Vejle', '4000 Roskilde', '8900 Randers',
				 '7400 Herning', '3000 Helsingør', '6000 Kolding',
				 '8700 Horsens', '4700 Næstved', '2800 Kongens Lyngby', '3400 Hillerød']
$$;

-- Lower-case ASCII form of a name, for e-mail addresses and usernames
-- (lower() leaves Æ, Ø and Å alone in the C locale).
create function pg_temp.ascii_name(s text) returns text
language sql immutable as $$
	select replace(replace(replace(replace(replace(lower(translate(s, 'ÆØÅÉ', 'æøåé')),
		'æ', 'ae'), 'ø', 'oe'), 'å', 'aa'), 'é', 'e'), ' ', '')
$$;

-- A Danish phone number, "+45 dd dd dd dd", made from a counter.
create function pg_temp.phone(n bigint) returns text
language sql immutable as $$
	select '+45 ' || substr(d, 1, 2) || ' ' || substr(d, 3, 2) || ' '
		|| substr(d, 5, 2) || ' ' || substr(d, 7, 2)
	from (select (20000000 + (n * 7919) % 9999999)::text as d) as digits
$$;

-- A street address with a Danish postcode and town, made from a counter.
create function pg_temp.address(n bigint) returns text
language sql immutable as $$
	select (pg_temp.streets())[1 + n % 16] || ' ' || (1 + (n * 7) % 120)
		|| case when n % 3 = 0 then ', ' || (1 + n % 4) || '. th.' else '' end
		|| ', ' || (pg_temp.towns())[1 + (n * 5) % 17]
$$;

-- Tenants: five companies that use OpenDIMS.
insert into opendims.tenants (id, name, cvr, plan, created_at)
select t.id, t.name, t.cvr, t.plan,
	   current_date - (2600 + t.id * 30) * interval '1 day'
from (values (1, 'Nordisk Lager ApS', '31234561', 'enterprise'),
			 (2, 'Fyns Værktøj A/S', '32345672', 'standard'),
			 (3, 'Jysk Kontorforsyning ApS', '33456783', 'standard'),
			 (4, 'Skagen Fiskegrej ApS', '34567894', 'starter'),
			 (5, 'Amager Cykler ApS', '35678905', 'starter'))
	 as t (id, name, cvr, plan);

-- Users: 40 per tenant; (first name, last name) pairs are all different.
insert into opendims.users (id, tenant_id, login, username, email, full_name,
							phone, last_login_ip, last_login_at, created_at)
select g,
	   1 + (g - 1) % 5,
	   'OD-' || lpad(g::text, 6, '0'),
	   pg_temp.ascii_name(f) || '.' || pg_temp.ascii_name(l),
	   pg_temp.ascii_name(f) || '.' || pg_temp.ascii_name(l) || '@example.dk',
	   f || ' ' || l,
	   pg_temp.phone(g),
	   ('192.0.2.' || (1 + (g * 37) % 254))::inet,
	   current_date - ((g * 13) % 180) * interval '1 day'
		   - (1 + g % 12) * interval '1 hour',
	   current_date - (1500 + (g * 31) % 1000) * interval '1 day'
from generate_series(1, 200) as g,
	 lateral (select (pg_temp.first_names())[1 + (g - 1) % 30] as f,
					 (pg_temp.last_names())[1 + ((g - 1) / 30 + 7 * ((g - 1) % 30)) % 28] as l) as n
order by g;

-- Customers: 200 per tenant; every eighth is a business, a few have no e-mail
-- address or phone number.
insert into opendims.customers (id, tenant_id, name, email, phone, address, created_at)
select g,
	   1 + (g - 1) % 5,
	   case when g % 8 = 0 then l || 's ' || (array['Byg', 'Auto', 'VVS', 'Maskiner', 'Handel'])[1 + g % 5] || ' ApS'
			else f || ' ' || l end,
	   case when g % 17 = 0 then null
			when g % 8 = 0 then 'info@' || pg_temp.ascii_name(l) || lower((array['Byg', 'Auto', 'VVS', 'Maskiner', 'Handel'])[1 + g % 5]) || '.example.com'
			else pg_temp.ascii_name(f) || '.' || pg_temp.ascii_name(l) || g
				 || (array['@example.com', '@example.dk', '@example.org'])[1 + g % 3] end,
	   case when g % 11 = 0 then null else pg_temp.phone(1000 + g) end,
	   pg_temp.address(g),
	   current_date - (2560 + g % 40) * interval '1 day'
from generate_series(1, 1000) as g,
	 lateral (select (pg_temp.first_names())[1 + (g * 7) % 30] as f,
					 (pg_temp.last_names())[1 + (g * 13) % 28] as l) as n
order by g;

-- Products: 20 per tenant.
insert into opendims.products (id, tenant_id, sku, name, unit_price, in_stock)
select g,
	   1 + (g - 1) / 20,
	   'SKU-' || (1 + (g - 1) / 20) || '-' || lpad((1 + (g - 1) % 20)::text, 4, '0'),
	   (array['Standard', 'Premium', 'Kompakt', 'Pro', 'Eco'])[1 + g % 5] || ' '
		   || (array['hylde', 'reol', 'palle', 'kasse', 'skruetrækker', 'boremaskine',
					 'stige', 'trillebør', 'fiskestang', 'hjelm', 'cykellås',
					 'kontorstol', 'skrivebord', 'printerpapir', 'arkivæske',
					 'lommelygte', 'værktøjskasse', 'pumpe', 'kabeltromle', 'sækkevogn'])[1 + (g - 1) % 20],
	   (19.95 + (g * 37) % 500)::numeric(12, 2),
	   (g * 17) % 250
from generate_series(1, 100) as g
order by g;

-- Orders: three per customer, placed over the last seven years; orders placed
-- in the last 30 days are still open, the others closed 1 to 20 days after
-- they were placed.  Every ninth order goes to a different delivery address.
insert into opendims.orders (id, customer_id, placed_at, closed_at,
							 delivery_name, delivery_address, delivery_phone)
select g, c.id, o.placed_at,
	   case when o.days_ago > 30 then o.placed_at + (1 + g % 20) * interval '1 day' end,
	   c.name,
	   case when g % 9 = 0 then pg_temp.address(5000 + g) else c.address end,
	   c.phone
from generate_series(1, 3000) as g,
	 lateral (select 1 + ((g * 1013) % 2555) as days_ago) as d,
	 lateral (select d.days_ago,
					 current_date - d.days_ago * interval '1 day'
						 + (8 * 60 + (g * 37) % 600) * interval '1 minute' as placed_at) as o,
	 lateral (select * from opendims.customers
			  where id = 1 + ((g - 1) * 389) % 1000) as c
order by g;

-- Order lines: three for each of the first 2000 orders, two for the rest,
-- each a product of the customer's own tenant.
insert into opendims.order_lines (id, order_id, product_id, quantity, price)
select row_number() over (order by o.id, g), o.id, p.id, 1 + g % 5, p.unit_price
from generate_series(1, 8000) as g
	 join opendims.orders as o on o.id = 1 + (g - 1) % 3000
	 join opendims.customers as c on c.id = o.customer_id
	 join opendims.products as p on p.id = (c.tenant_id - 1) * 20 + 1 + (g * 7) % 20
order by o.id, g;

-- Invoices: one for each of the first 2500 closed orders, issued when the
-- order closed, amount including 25 % VAT, billed to the customer's name and
-- address.
insert into opendims.invoices (id, order_id, customer_id, invoice_no, issued_on,
							   amount, billing_name, billing_address)
select row_number() over (order by o.id), o.id, c.id,
	   'INV-' || to_char(o.closed_at, 'YYYY') || '-' || lpad(o.id::text, 6, '0'),
	   o.closed_at::date,
	   (select round(sum(l.quantity * l.price) * 1.25, 2)
		from opendims.order_lines as l where l.order_id = o.id),
	   c.name, coalesce(c.address, '')
from opendims.orders as o
	 join opendims.customers as c on c.id = o.customer_id
where o.closed_at is not null
order by o.id
limit 2500;

-- Support tickets: two per user, opened over the last four years; tickets of
-- the last week are still open.
insert into opendims.support_tickets (id, user_id, opened_at, closed_at, subject)
select g, 1 + ((g - 1) * 53) % 200, t.opened_at,
	   case when t.days_ago > 7 then t.opened_at + (1 + g % 5) * interval '1 day' end,
	   (array['Cannot print invoices', 'Stock count is wrong after import',
			  'How do I add a new warehouse?', 'Login fails with two-factor code',
			  'Export to CSV shows wrong decimals', 'Barcode scanner not recognised',
			  'Question about our subscription', 'Order stuck in status "picking"',
			  'Please delete an old user', 'Wrong VAT on credit note',
			  'Integration with webshop stopped', 'Slow product search'])[1 + g % 12]
from generate_series(1, 400) as g,
	 lateral (select 1 + (g * 367) % 1460 as days_ago) as d,
	 lateral (select d.days_ago,
					 current_date - d.days_ago * interval '1 day'
						 + (8 * 60 + (g * 53) % 540) * interval '1 minute' as opened_at) as t
order by g;

-- Support messages: four for each of the first 300 tickets, three for the
-- rest, alternating between the user and OpenDIMS staff.  A few user messages
-- contain the user's phone number, a few a made-up CPR-like number.
insert into opendims.support_messages (id, ticket_id, sent_at, from_staff, body)
select g, t.id,
	   t.opened_at + ((g - 1) / 400) * (3 * 60 + g % 50) * interval '1 minute',
	   ((g - 1) / 400) % 2 = 1,
	   case when ((g - 1) / 400) % 2 = 1 then
				(array['Thank you for contacting OpenDIMS support. We are looking into it.',
					   'Could you send us a screenshot of the error message?',
					   'We have found the cause and deployed a fix. Please try again.',
					   'This is now possible under Settings > Warehouses.',
					   'We have forwarded your request to our developers.'])[1 + g % 5]
			when g % 211 = 0 then
				'For the payroll module I was asked for my CPR number, it is '
				|| lpad((1 + g % 28)::text, 2, '0') || lpad((1 + g % 12)::text, 2, '0')
				|| lpad(((g * 7) % 100)::text, 2, '0') || '-' || lpad(((g * 7919) % 10000)::text, 4, '0')
				|| '. Is that needed?'
			when g % 97 = 0 then
				'It is easier to explain by phone, please call me on ' || u.phone || '.'
			else
				(array['Hi, the problem is still there after the update.',
					   'It happens every time we open the order overview.',
					   'Thanks, that solved it.',
					   'We use Chrome on Windows 11, if that helps.',
					   'Hej, kan I hjælpe os hurtigt? Vi skal sende varer i dag.',
					   'The numbers in the report do not match our stock count.'])[1 + g % 6]
	   end
from generate_series(1, 1500) as g
	 join opendims.support_tickets as t on t.id = 1 + (g - 1) % 400
	 join opendims.users as u on u.id = t.user_id
order by g;

-- Tracking events: 25 per user over the last two years, from the user's usual
-- address with an occasional IPv6 one.
insert into opendims.tracking_events (id, user_id, occurred_at, ip, user_agent, event)
select g, e.user_id,
	   current_date - (1 + (g * 277) % 730) * interval '1 day'
		   + ((g * 97) % 86400) * interval '1 second',
	   case when g % 10 = 0 then ('2001:db8:' || to_hex(e.user_id) || '::' || to_hex(1 + g % 4096))::inet
			when e.user_id % 3 = 0 then ('198.51.100.' || (1 + (e.user_id * 7 + g % 3) % 254))::inet
			else ('203.0.113.' || (1 + (e.user_id * 11 + g % 2) % 254))::inet end,
	   (array['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
			  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
			  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
			  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
			  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
			  'OpenDIMS-Scanner/3.2 (Android 13)'])[1 + e.user_id % 6],
	   (array['login', 'view_dashboard', 'search_products', 'edit_product',
			  'create_order', 'print_invoice', 'export_csv', 'logout'])[1 + g % 8]
from generate_series(1, 5000) as g,
	 lateral (select 1 + ((g - 1) * 71) % 200 as user_id) as e
order by g;

-- Identity columns continue after the generated ids.
select setval(pg_get_serial_sequence('opendims.tenants', 'id'), max(id)) from opendims.tenants;
select setval(pg_get_serial_sequence('opendims.users', 'id'), max(id)) from opendims.users;
select setval(pg_get_serial_sequence('opendims.customers', 'id'), max(id)) from opendims.customers;
select setval(pg_get_serial_sequence('opendims.products', 'id'), max(id)) from opendims.products;
select setval(pg_get_serial_sequence('opendims.orders', 'id'), max(id)) from opendims.orders;
select setval(pg_get_serial_sequence('opendims.order_lines', 'id'), max(id)) from opendims.order_lines;
select setval(pg_get_serial_sequence('opendims.invoices', 'id'), max(id)) from opendims.invoices;
select setval(pg_get_serial_sequence('opendims.support_tickets', 'id'), max(id)) from opendims.support_tickets;
select setval(pg_get_serial_sequence('opendims.support_messages', 'id'), max(id)) from opendims.support_messages;
select setval(pg_get_serial_sequence('opendims.tracking_events', 'id'), max(id)) from opendims.tracking_events;

commit;

analyze opendims.tenants, opendims.users, opendims.customers, opendims.products,
		opendims.orders, opendims.order_lines, opendims.invoices,
		opendims.support_tickets, opendims.support_messages, opendims.tracking_events;
