// JDBC on pg_sharing, the way BI tools and Java services connect: pgjdbc
// (Debian's libpostgresql-jdbc-java) and Java 17, directly and through
// PgBouncer in transaction pooling mode.
//
//   java -cp /usr/share/java/postgresql.jar examples/jdbc/JdbcExamples.java \
//        HOST PORT PGBOUNCER_PORT DATABASE
//
// Expects a copy of the org of examples/demo_setup.sql with
// examples/jdbc/setup.sql applied (it renames accounts), and PgBouncer
// (pool_mode = transaction, default_pool_size >= 2, server_round_robin off)
// in front of it, knowing the logins below. What it shows:
//   1. BI: each person's own login role (db_role) runs dashboard queries as
//      PreparedStatements, past pgjdbc's prepareThreshold (1, and the
//      default 5), so they run as named server-side statements: each login
//      sees exactly its user's rows. The same through PgBouncer, where
//      prepareThreshold=0 is needed (PgBouncer 1.18 leaves named statements
//      on the server connection, where the next client's collide with them:
//      shown failing with 42P05).
//   2. The application path: crm_app (a member of sharing_app) calls
//      sharing.act_as per transaction, and the same server-side prepared
//      statement is re-executed for one user after another on one
//      connection: each time exactly that user's rows and writes.
//   3. A gateway login that switches with SET ROLE: SET LOCAL ROLE in a
//      transaction is exact, also through PgBouncer; a session-level SET ROLE
//      through PgBouncer leaks to the next client of the same server
//      connection (shown).
// Every result is compared with what the org's sharing rules say; exits
// non-zero on the first mismatch.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

public class JdbcExamples {

    // --- what each user may see, from the rules of examples/demo_setup.sql ----

    record Account(long id, long owner, String city, long amount) {}

    static final List<Account> ACCOUNTS = List.of(
            new Account(101, 3, "New York", 50000), new Account(102, 3, "Boston", 12000),
            new Account(201, 4, "Seattle", 8000), new Account(202, 4, "New York", 90000),
            new Account(301, 2, "Chicago", 30000), new Account(401, 5, "Denver", 1000));
    /** The role hierarchy: role -> parent (CEO is the root). */
    static final Map<String, String> ROLE_PARENT =
            Map.of("Sales Manager", "CEO", "Sales Rep", "Sales Manager", "Support", "CEO");
    static final Map<Long, String> USER_ROLE =
            Map.of(1L, "CEO", 2L, "Sales Manager", 3L, "Sales Rep", 4L, "Sales Rep", 5L, "Support");
    /** Login roles mapped with db_role; crm_app (the application's login) is mapped to no user. */
    static final Map<String, Long> LOGIN_USER =
            Map.of("ceo", 1L, "sales_manager", 2L, "rep_east", 3L, "rep_west", 4L, "support_agent", 5L);
    static final List<String> LOGINS =
            List.of("ceo", "sales_manager", "rep_east", "rep_west", "support_agent", "crm_app");

    /** role is a strict superior of other in the role hierarchy. */
    static boolean isAbove(String role, String other) {
        String parent = ROLE_PARENT.get(other);
        return parent != null && (parent.equals(role) || isAbove(role, parent));
    }

    /**
     * null, "read" or "edit": accounts are private; owners and their superiors
     * have full access (peers do not: share_with_peers is off); the role
     * Support reads New York accounts (criteria rule); Will shared 201 with
     * Erin read-only (share_record). A null user (no identity) has none.
     */
    static String access(Long user, Account a) {
        if (user == null) return null;
        String role = USER_ROLE.get(user);
        if (user == a.owner() || isAbove(role, USER_ROLE.get(a.owner()))) return "edit";
        if ((role.equals("Support") && a.city().equals("New York")) || (a.id() == 201 && user == 3)) return "read";
        return null;
    }

    static List<Long> visible(Long user) {
        return ACCOUNTS.stream().filter(a -> access(user, a) != null).map(Account::id).sorted().toList();
    }

    /** The dashboard's pipeline by city: city -> "count/sum". */
    static Map<String, String> pipelineByCity(Long user, long minAmount) {
        Map<String, long[]> sums = new TreeMap<>();
        for (Account a : ACCOUNTS) {
            if (access(user, a) == null || a.amount() < minAmount) continue;
            long[] s = sums.computeIfAbsent(a.city(), k -> new long[2]);
            s[0]++;
            s[1] += a.amount();
        }
        Map<String, String> out = new TreeMap<>();
        sums.forEach((city, s) -> out.put(city, s[0] + "/" + s[1]));
        return out;
    }

    // --- helpers --------------------------------------------------------------

    static String host;
    static int directPort, bouncerPort;
    static String database;

    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError("MISMATCH: " + what);
    }

    static void ok(String what) {
        System.out.println("ok   " + what);
    }

    static Connection connect(int port, String login, int prepareThreshold) throws SQLException {
        String url = "jdbc:postgresql://" + host + ":" + port + "/" + database + "?user=" + login
                + "&prepareThreshold=" + prepareThreshold + "&ApplicationName=jdbc-example";
        return DriverManager.getConnection(url);
    }

    static List<Long> ids(PreparedStatement ps) throws SQLException {
        List<Long> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out.add(rs.getLong(1));
        }
        return out;
    }

    static Map<String, String> cities(PreparedStatement ps, long minAmount) throws SQLException {
        ps.setBigDecimal(1, BigDecimal.valueOf(minAmount));
        Map<String, String> out = new TreeMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getLong(2) + "/" + rs.getBigDecimal(3).longValueExact());
            }
        }
        return out;
    }

    static Object scalar(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getObject(1);
        }
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /**
     * How many statements pgjdbc has prepared by name (S_1, S_2, ...) on this
     * server connection, not counting this query itself (pgjdbc applies
     * prepareThreshold to repeated plain Statements too).
     */
    static long namedStatements(Connection c) throws SQLException {
        return ((Number) scalar(c, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'S\\_%' "
                + "AND statement NOT LIKE '%pg_prepared_statements%'")).longValue();
    }

    static final String IDS_SQL = "SELECT id FROM accounts ORDER BY id";
    static final String CITIES_SQL = "SELECT billing_city, count(*), sum(amount) FROM accounts "
            + "WHERE amount >= ? GROUP BY billing_city ORDER BY billing_city";

    // --- 1. BI: a person's own login -------------------------------------------------

    /**
     * The dashboard as `login`, `executions` times with the same two
     * PreparedStatements. Returns the execution (1-based) from which pgjdbc
     * used named server-side statements, 0 if it never did.
     */
    static int dashboard(Connection c, String login, int executions, String where) throws SQLException {
        Long user = LOGIN_USER.get(login);
        int switchedAt = 0;
        try (PreparedStatement idsPs = c.prepareStatement(IDS_SQL);
             PreparedStatement citiesPs = c.prepareStatement(CITIES_SQL)) {
            for (int i = 1; i <= executions; i++) {
                long minAmount = (i % 2 == 0) ? 10000 : 0;  // another parameter each time
                List<Long> seen = ids(idsPs);
                check(seen.equals(visible(user)), where + ": " + login + " execution " + i + " saw " + seen
                        + ", expected " + visible(user));
                Map<String, String> byCity = cities(citiesPs, minAmount);
                check(byCity.equals(pipelineByCity(user, minAmount)), where + ": " + login + " execution " + i
                        + " pipeline " + byCity + ", expected " + pipelineByCity(user, minAmount));
                if (switchedAt == 0 && namedStatements(c) >= 2) switchedAt = i;
            }
        }
        return switchedAt;
    }

    static void biDirect() throws SQLException {
        for (int threshold : new int[] {1, 5}) {
            for (String login : LOGINS) {
                try (Connection c = connect(directPort, login, threshold)) {
                    Object me = scalar(c, "SELECT sharing.current_user_id()");
                    Long expectedMe = LOGIN_USER.get(login);
                    check(Objects.equals(me == null ? null : ((Number) me).longValue(), expectedMe),
                            login + " is user " + me + ", expected " + expectedMe);
                    int switchedAt = dashboard(c, login, 7, "direct, prepareThreshold=" + threshold);
                    check(switchedAt == threshold, "direct, prepareThreshold=" + threshold + ": " + login
                            + "'s statements became named server-side statements at execution " + switchedAt);
                }
            }
            ok("BI directly, prepareThreshold=" + threshold + ": each of " + LOGINS + " ran the dashboard 7 times, "
                    + "as named server-side statements from execution " + threshold + " on: exactly its user's "
                    + "accounts and pipeline by city (crm_app, mapped to no user: nothing)");
        }
    }

    static void biThroughPgBouncer() throws SQLException {
        for (String login : LOGINS) {
            try (Connection c = connect(bouncerPort, login, 0)) {
                check(dashboard(c, login, 7, "PgBouncer, prepareThreshold=0") == 0,
                        login + ": prepareThreshold=0 still prepared named statements");
            }
        }
        ok("BI through PgBouncer (transaction pooling), prepareThreshold=0: each login's dashboard, 7 times, "
                + "exactly its user's rows");
    }

    /**
     * Named statements through PgBouncer 1.18: they stay on the server
     * connection, where the next client's pgjdbc, counting its own S_1, S_2,
     * ... from 1, collides with them.
     */
    static void namedStatementsThroughPgBouncerFail() throws SQLException {
        try (Connection a = connect(bouncerPort, "rep_west", 1); Connection b = connect(bouncerPort, "rep_west", 1);
             PreparedStatement aIds = a.prepareStatement(IDS_SQL); PreparedStatement bIds = b.prepareStatement(IDS_SQL)) {
            a.setAutoCommit(false);
            b.setAutoCommit(false);
            check(ids(aIds).equals(visible(4L)), "rep_west through PgBouncer, client a");
            a.commit();  // a's S_1 (its BEGIN), S_2, ... stay on the server connection, back in PgBouncer's pool
            try {
                ids(bIds);  // b gets that server connection (LIFO) and prepares its own S_1
                check(false, "expected prepared statement \"S_1\" already exists");
            } catch (SQLException e) {
                check("42P05".equals(e.getSQLState()), "expected SQLSTATE 42P05, got " + e.getSQLState()
                        + ": " + e.getMessage());
                ok("pitfall shown: through PgBouncer 1.18, two clients with prepareThreshold=1 collide on one "
                        + "server connection (" + e.getSQLState() + ": " + e.getMessage() + "); use "
                        + "prepareThreshold=0 there, or PgBouncer 1.21+ with max_prepared_statements");
            }
            b.rollback();
        }
    }

    // --- 2. the application path: act_as per transaction, statements reused ----------

    static void appPath(int port, int threshold, String where) throws SQLException {
        Long[] users = {1L, 2L, 3L, 4L, 5L, null};
        try (Connection c = connect(port, "crm_app", threshold);
             PreparedStatement actAs = c.prepareStatement("SELECT sharing.act_as(?)");
             PreparedStatement idsPs = c.prepareStatement(IDS_SQL);
             PreparedStatement whoPs = c.prepareStatement("SELECT sharing.current_user_id()");
             PreparedStatement rename = c.prepareStatement("UPDATE accounts SET name = ? WHERE id = ?")) {
            c.setAutoCommit(false);
            int executions = 0;
            for (int round = 0; round < 3; round++) {
                for (Long user : users) {
                    if (user != null) {
                        actAs.setLong(1, user);
                        actAs.execute();
                    }
                    List<Long> seen = ids(idsPs);
                    executions++;
                    check(seen.equals(visible(user)), where + ": execution " + executions + " for user " + user
                            + " saw " + seen + ", expected " + visible(user));
                    Object me;
                    try (ResultSet rs = whoPs.executeQuery()) {
                        rs.next();
                        me = rs.getObject(1);
                    }
                    check(Objects.equals(me == null ? null : ((Number) me).longValue(), user),
                            where + ": current_user_id() " + me + " for user " + user);
                    // From the threshold on, the SELECT ran as a named statement on the server.
                    boolean named = (Boolean) scalar(c, "SELECT EXISTS (SELECT FROM pg_prepared_statements "
                            + "WHERE name LIKE 'S\\_%' AND statement = '" + IDS_SQL + "')");
                    check(named == (threshold > 0 && executions >= threshold), where + ": execution " + executions
                            + (named ? " ran" : " did not run") + " as a named server-side statement");
                    c.commit();  // the identity ends here
                }
            }
            ok(where + ": one connection, " + executions + " transactions of users 1..5 and none, each act_as "
                    + "then the same PreparedStatement" + (threshold > 0 ? " (a named server-side statement from "
                    + "execution " + threshold + " on)" : " (never a named one)")
                    + ": exactly that user's accounts, none without act_as");

            for (Long user : Arrays.copyOf(users, 5)) {
                for (Account a : ACCOUNTS) {
                    actAs.setLong(1, user);
                    actAs.execute();
                    rename.setString(1, "renamed by " + user);
                    rename.setLong(2, a.id());
                    int updated = rename.executeUpdate();
                    int want = "edit".equals(access(user, a)) ? 1 : 0;
                    check(updated == want, where + ": user " + user + " renames " + a.id() + ": " + updated
                            + " rows, expected " + want);
                    c.commit();
                }
            }
            ok(where + ": the same UPDATE PreparedStatement for 5 users x 6 accounts: 1 row where the user may "
                    + "edit, 0 where the user only reads or cannot see");
        }
    }

    /** Two application connections through PgBouncer, their transactions interleaved. */
    static void appThroughPgBouncerInterleaved() throws SQLException {
        try (Connection erin = connect(bouncerPort, "crm_app", 0); Connection will = connect(bouncerPort, "crm_app", 0);
             PreparedStatement erinIds = erin.prepareStatement(IDS_SQL);
             PreparedStatement willIds = will.prepareStatement(IDS_SQL)) {
            erin.setAutoCommit(false);
            will.setAutoCommit(false);
            for (int round = 0; round < 10; round++) {
                scalar(erin, "SELECT sharing.act_as(3)");
                scalar(will, "SELECT sharing.act_as(4)");
                check(ids(erinIds).equals(visible(3L)), "round " + round + ": Erin, both in a transaction");
                check(ids(willIds).equals(visible(4L)), "round " + round + ": Will, both in a transaction");
                erin.commit();
                check(ids(erinIds).isEmpty(), "round " + round + ": Erin's next transaction without act_as");
                check(ids(willIds).equals(visible(4L)), "round " + round + ": Will, after Erin's commit");
                erin.commit();
                will.commit();
            }
        }
        ok("application through PgBouncer, prepareThreshold=0: two connections interleaving transactions "
                + "(act_as 3 and 4) for 10 rounds: each exactly its user's accounts, none after COMMIT");
    }

    // --- 3. a gateway that switches with SET ROLE ----------------------------------

    static void gatewaySetLocalRole(int port, int threshold, String where) throws SQLException {
        String[] logins = {"rep_east", "rep_west", "support_agent"};
        try (Connection g = connect(port, "bi_gateway", threshold); PreparedStatement idsPs = g.prepareStatement(IDS_SQL)) {
            g.setAutoCommit(false);
            for (int round = 0; round < 3; round++) {
                for (String login : logins) {
                    exec(g, "SET LOCAL ROLE " + login);
                    Long user = LOGIN_USER.get(login);
                    check(ids(idsPs).equals(visible(user)), where + ": SET LOCAL ROLE " + login);
                    g.commit();  // SET LOCAL ends with the transaction
                    check(ids(idsPs).isEmpty(), where + ": bi_gateway itself after COMMIT");
                    g.commit();
                }
            }
        }
        ok(where + ": bi_gateway, SET LOCAL ROLE rep_east / rep_west / support_agent per transaction, the same "
                + "PreparedStatement: exactly each person's accounts; after COMMIT the gateway itself sees none");
    }

    static void gatewaySessionSetRoleLeaksThroughPgBouncer() throws SQLException {
        try (Connection g1 = connect(bouncerPort, "bi_gateway", 0); Connection g2 = connect(bouncerPort, "bi_gateway", 0)) {
            exec(g1, "SET ROLE rep_east");  // session-level: stays on the server connection
            List<Long> seen = new ArrayList<>();
            try (PreparedStatement ps = g2.prepareStatement(IDS_SQL)) {
                seen = ids(ps);  // g2 gets the server connection g1 just released (LIFO)
            }
            check(seen.equals(visible(3L)), "expected the other client to inherit SET ROLE rep_east, saw " + seen);
            ok("pitfall shown: a session-level SET ROLE through PgBouncer (transaction pooling) stays on the server "
                    + "connection, and another client of bi_gateway saw Erin's accounts " + seen
                    + "; use SET LOCAL ROLE inside a transaction (or session pooling)");
            exec(g2, "RESET ROLE");
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: java -cp postgresql.jar JdbcExamples.java HOST PORT PGBOUNCER_PORT DATABASE");
            System.exit(2);
        }
        host = args[0];
        directPort = Integer.parseInt(args[1]);
        bouncerPort = Integer.parseInt(args[2]);
        database = args[3];
        try (Connection c = connect(directPort, "crm_app", 5)) {
            ok("pgjdbc " + c.getMetaData().getDriverVersion() + " on Java " + System.getProperty("java.version"));
        }
        biDirect();
        biThroughPgBouncer();
        namedStatementsThroughPgBouncerFail();
        appPath(directPort, 1, "application directly, prepareThreshold=1");
        appPath(directPort, 5, "application directly, prepareThreshold=5 (the default)");
        appPath(bouncerPort, 0, "application through PgBouncer, prepareThreshold=0");
        appThroughPgBouncerInterleaved();
        gatewaySetLocalRole(directPort, 1, "SET ROLE-based gateway directly, prepareThreshold=1");
        gatewaySetLocalRole(bouncerPort, 0, "SET ROLE-based gateway through PgBouncer, prepareThreshold=0");
        gatewaySessionSetRoleLeaksThroughPgBouncer();
        System.out.println("JdbcExamples: all checks passed");
    }
}
