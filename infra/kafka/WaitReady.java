// Readiness of the local broker: a real metadata round trip (describe the
// cluster, list the topics), retried until a deadline. Run with the broker's
// own jars: java -cp "$LIBS/*" WaitReady.java BOOTSTRAP SECONDS
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class WaitReady {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000L;
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000);
        props.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, 200);
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        Exception last = null;
        try (Admin admin = Admin.create(props)) {
            while (System.currentTimeMillis() < deadline) {
                try {
                    DescribeClusterResult cluster = admin.describeCluster();
                    int brokers = cluster.nodes().get(5, TimeUnit.SECONDS).size();
                    String clusterId = cluster.clusterId().get(5, TimeUnit.SECONDS);
                    Set<String> topics = admin.listTopics().names().get(5, TimeUnit.SECONDS);
                    if (brokers > 0) {
                        System.out.println("cluster " + clusterId + ": " + brokers + " broker(s), "
                                + topics.size() + " topic(s)");
                        return;
                    }
                } catch (Exception e) {
                    last = e;
                }
                Thread.sleep(300);
            }
        }
        System.err.println("no metadata from " + bootstrap + ": " + last);
        System.exit(1);
    }
}
