import javax.management.*;
import javax.management.remote.*;
import java.util.*;

// The broker's counters, as "name<TAB>count": requests by type, and records in by topic.
// Run as a source file (java KafkaCounts.java PORT) by tests/benchmarks/broker_requests.py.
public class KafkaCounts {
    public static void main(String[] args) throws Exception {
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + args[0] + "/jmxrmi");
        try (JMXConnector c = JMXConnectorFactory.connect(url)) {
            MBeanServerConnection s = c.getMBeanServerConnection();
            TreeMap<String, Object> out = new TreeMap<>();
            for (ObjectName n : s.queryNames(new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
                out.merge("request " + n.getKeyProperty("request"), s.getAttribute(n, "Count"), (a, b) -> ((Long) a) + ((Long) b));
            }
            for (ObjectName n : s.queryNames(new ObjectName("kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=*"), null)) {
                out.put("records " + n.getKeyProperty("topic"), s.getAttribute(n, "Count"));
            }
            for (Map.Entry<String, Object> e : out.entrySet()) System.out.println(e.getKey() + "\t" + e.getValue());
        }
    }
}
